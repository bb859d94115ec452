// Image exclusion patterns: globs over normalised references.
import {
  formatFamiliar,
  formatName,
  formatReference,
  type ImageReference,
} from "../image/reference.ts";

const compiled = new Map<string, RegExp>();

/**
 * True when the glob matches the reference's normalised name ("docker.io/library/nginx"), its
 * full normalised form with tag and digest ("docker.io/library/nginx:1.25"), or either in the
 * familiar short form ("nginx", "nginx:1.25"). In a glob, "*" matches any run of characters
 * except "/", "**" matches anything, "?" one character.
 */
export function matchesImageGlob(glob: string, reference: ImageReference): boolean {
  const pattern = compileGlob(glob);
  const name = { domain: reference.domain, path: reference.path };
  return [
    formatName(reference),
    formatReference(reference),
    formatFamiliar(name),
    formatFamiliar(reference),
  ].some((candidate) => pattern.test(candidate));
}

function compileGlob(glob: string): RegExp {
  const cached = compiled.get(glob);
  if (cached !== undefined) {
    return cached;
  }
  let source = "";
  for (let index = 0; index < glob.length; index += 1) {
    const character = glob.charAt(index);
    if (character === "*" && glob.charAt(index + 1) === "*") {
      source += ".*";
      index += 1;
    } else if (character === "*") {
      source += "[^/]*";
    } else if (character === "?") {
      source += "[^/]";
    } else {
      source += character.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  const pattern = new RegExp(`^${source}$`);
  compiled.set(glob, pattern);
  return pattern;
}
