// fast-check arbitraries for image strings: the reference grammar's edges (domains with ports,
// IPv6 hosts, separators, tag and digest limits), the image-ref cases, images the C1 nodes hold,
// and strings one edit away from valid.
import fc from "fast-check";

import { loadCases } from "../support/cases.ts";

/** Image strings of the image-ref cases, valid and invalid. */
export const CASE_IMAGES: readonly string[] = loadCases("image-ref").map((c) => c.input);

/** Images the C1 nodes hold, as pods write them, so hints are computed. */
const HELD_IMAGES = [
  "nginx:1.25",
  "docker.io/library/nginx:1.25",
  "registry.example.com/dockerhub/library/nginx:1.25",
  "redis:7.2",
  "registry.example.com/dockerhub/library/redis:7.2",
  "quay.io/team-a/worker:3.3",
  "busybox:1.36",
  "registry.k8s.io/pause:3.9",
  "mcr.microsoft.com/windows/servercore:ltsc2022",
  "nginx@sha256:8537c4691c8a826001da90f838a258cecca35404f27e8e7a1c87dd22134261e2",
  "auto",
];

const DOMAINS = [
  "docker.io",
  "index.docker.io",
  "registry-1.docker.io",
  "quay.io",
  "ghcr.io",
  "registry.k8s.io",
  "registry.example.net:5000",
  "registry.example.com",
  "registry.example.com:443",
  "registry.example.com.",
  "REGISTRY.EXAMPLE.NET:5000",
  "localhost",
  "localhost:5000",
  "[::1]:5000",
  "[2001:db8::1]",
  "192.168.0.1:5000",
  "mcr.microsoft.com",
];

const lowerAlnum = fc.stringMatching(/^[a-z0-9]{1,12}$/);
const separator = fc.constantFrom(".", "_", "__", "-", "--");

const domainComponent = fc.stringMatching(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?$/);
const generatedDomain = fc
  .tuple(
    fc.array(domainComponent, { minLength: 1, maxLength: 4 }),
    fc.option(fc.integer({ min: 0, max: 99_999 }), { nil: undefined }),
  )
  .map(([parts, port]) => parts.join(".") + (port === undefined ? "" : `:${port}`));

const pathComponent = fc
  .tuple(lowerAlnum, fc.array(fc.tuple(separator, lowerAlnum), { maxLength: 3 }))
  .map(([head, rest]) => head + rest.map(([sep, part]) => sep + part).join(""));

/** Paths from short to past the 255-character repository limit. */
const path = fc.oneof(
  { weight: 6, arbitrary: fc.array(pathComponent, { minLength: 1, maxLength: 5 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 240, max: 270 }).map((length) => ["a".repeat(length)]),
  },
);

/** Tags up to and just past the 128-character limit. */
const tag = fc.oneof(
  fc.stringMatching(/^[\w][\w.-]{0,20}$/),
  fc.integer({ min: 126, max: 130 }).map((length) => "t".repeat(length)),
  fc.constantFrom(".1", "_1", "-1", "latest", "LATEST"),
);

const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));

const digest = fc.oneof(
  { weight: 4, arbitrary: hex(64).map((h) => `sha256:${h}`) },
  { weight: 1, arbitrary: hex(64).map((h) => `sha256:${h.toUpperCase()}`) },
  { weight: 1, arbitrary: hex(128).map((h) => `sha512:${h}`) },
  { weight: 1, arbitrary: hex(96).map((h) => `sha384:${h}`) },
  { weight: 1, arbitrary: hex(32).map((h) => `md5:${h}`) },
  { weight: 1, arbitrary: hex(63).map((h) => `sha256:${h}`) },
  { weight: 1, arbitrary: hex(40).map((h) => `sha256+b64.x:${h}`) },
);

/** References built from the grammar's parts; most are valid, some cross a length limit. */
export const grammarImage = fc
  .record({
    domain: fc.option(fc.oneof(fc.constantFrom(...DOMAINS), generatedDomain), { nil: undefined }),
    path,
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  })
  .map(({ domain, path: components, tag: tagText, digest: digestText }) => {
    const name = (domain === undefined ? "" : `${domain}/`) + components.join("/");
    return name + (tagText === undefined ? "" : `:${tagText}`) + (digestText ?? "");
  });

const oddCharacter = fc.oneof(
  fc.constantFrom(" ", "\t", "\n", "/", ":", "@", "..", "//", "\u0000", "\u00e9", "\u200b"),
  fc.constantFrom("\ud800", "\udfff", "😀", "\ufeff", "%2F", "A", "$", "\\"),
);

/** Applies one character edit (insert, delete or replace) at a random position. */
const editedImage = fc
  .tuple(
    fc.oneof(grammarImage, fc.constantFrom(...CASE_IMAGES, ...HELD_IMAGES)),
    fc.nat(),
    fc.constantFrom("insert", "delete", "replace"),
    oddCharacter,
  )
  .map(([image, at, edit, character]) => {
    const position = image.length === 0 ? 0 : at % image.length;
    const before = image.slice(0, position);
    if (edit === "insert") {
      return before + character + image.slice(position);
    }
    const after = image.slice(position + 1);
    return edit === "delete" ? before + after : before + character + after;
  });

/** Long strings, from past the parser's 1024-character cut to 300 KB. */
const hugeImage = fc
  .tuple(fc.constantFrom("a", "/", ":", "é", "nginx/"), fc.integer({ min: 1000, max: 300_000 }))
  .map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)));

/** Any image value a container may carry, strings and the wrong types. */
export const imageValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...HELD_IMAGES) },
  { weight: 6, arbitrary: fc.constantFrom(...CASE_IMAGES) },
  { weight: 8, arbitrary: grammarImage },
  { weight: 4, arbitrary: editedImage },
  { weight: 1, arbitrary: hugeImage },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.constant(null), fc.constant(""), fc.integer(), fc.boolean()),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constant({}), fc.constant(["nginx"])) },
);
