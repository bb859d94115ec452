// The human-readable dry-run summary: per container the decision and reason, then the preferred
// nodes, the cold images, the warnings and the patch.
import type { DryRunEntry } from "./dry-run.ts";

/** Formats every entry as an indented block, separated by blank lines. */
export function formatSummary(entries: readonly DryRunEntry[]): string {
  return entries.map(formatEntry).join("\n");
}

function formatEntry(entry: DryRunEntry): string {
  const { result } = entry;
  const lines = [entry.label];
  if (result.skipReason !== undefined) {
    lines.push(`  skipped: ${result.skipReason}`, "  patch: none");
    return `${lines.join("\n")}\n`;
  }

  lines.push("  containers:");
  for (const container of result.containers) {
    const target = container.rewrittenImage === undefined ? "" : ` -> ${container.rewrittenImage}`;
    lines.push(
      `    ${container.name}: ${JSON.stringify(container.image)}${target}`,
      `      ${container.reason}`,
    );
  }
  if (result.containers.length === 0) {
    lines.push("    (none)");
  }

  lines.push(heading("preferred nodes", result.preferredNodes.length));
  for (const preference of result.preferredNodes) {
    lines.push(
      `    ${preference.node}  weight ${preference.weight}  holds ${formatBytes(preference.heldBytes)} of ${formatBytes(preference.totalBytes)}`,
    );
  }
  if (result.localityReason !== undefined) {
    const basis = result.localityBasis === undefined ? "" : `basis: ${result.localityBasis}; `;
    lines.push(`    (${basis}${result.localityReason})`);
  }

  lines.push(heading("cold images", result.coldImages.length));
  lines.push(...result.coldImages.map((image) => `    ${image}`));
  if (result.coldImages.length > 0) {
    lines.push(
      "    (no node reports them; a node lists at most 50 images, so absence means not reported)",
    );
  }
  if (result.warnings.length > 0) {
    lines.push("  warnings:", ...result.warnings.map((warning) => `    ${warning}`));
  }
  lines.push(heading("patch", result.patch.length));
  lines.push(...result.patch.map((operation) => `    ${JSON.stringify(operation)}`));
  return `${lines.join("\n")}\n`;
}

/** Formats a byte count in decimal megabytes, as image sizes are usually quoted. */
function formatBytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** A section heading: "  name: none" when empty, "  name:" when a list follows. */
function heading(name: string, count: number): string {
  return count === 0 ? `  ${name}: none` : `  ${name}:`;
}
