// Formats of Kubernetes names and values, as k8s.io/apimachinery/pkg/util/validation checks them
// (IsQualifiedName, IsValidLabelValue, IsDNS1123Label, IsDNS1123Subdomain), plus the integer
// syntax that label selectors accept for Gt and Lt. Each function returns problem messages, empty
// when the input is valid.

// An RFC 1123 label: lowercase alphanumerics and "-", starting and ending alphanumeric.
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// An RFC 1123 subdomain: RFC 1123 labels joined by ".".
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// The name part of a qualified name, and a non-empty label value: alphanumerics, "-", "_" and
// ".", starting and ending alphanumeric.
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
// What strconv.ParseInt(v, 10, 64) accepts before its range check: an optional sign and digits.
const DECIMAL_INTEGER = /^[+-]?[0-9]+$/;

const MAX_LABEL_LENGTH = 63;
const MAX_SUBDOMAIN_LENGTH = 253;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const NAME_CHARACTERS =
  'must contain only letters, digits, "-", "_" and ".", and start and end with a letter or digit';

/**
 * Checks a qualified name (label and annotation keys): an optional prefix that is an RFC 1123
 * subdomain followed by "/", then a name part of 1-63 characters.
 */
export function qualifiedNameProblems(key: string): string[] {
  const parts = key.split("/");
  if (parts.length > 2) {
    return ['must be "name" or "prefix/name" with at most one "/"'];
  }
  const [prefix, name] = parts.length === 2 ? [parts[0] ?? "", parts[1] ?? ""] : [undefined, key];

  const problems: string[] = [];
  if (prefix === "") {
    problems.push('the prefix before "/" must not be empty');
  } else if (prefix !== undefined) {
    problems.push(...dnsSubdomainProblems(prefix).map((message) => `prefix ${message}`));
  }

  if (name === "") {
    problems.push("the name part must not be empty");
  } else if (name.length > MAX_LABEL_LENGTH) {
    problems.push(`the name part has ${name.length} characters; the maximum is 63`);
  } else if (!QUALIFIED_NAME_PART.test(name)) {
    problems.push(`the name part ${NAME_CHARACTERS}`);
  }
  return problems;
}

/** Checks a label value: empty, or up to 63 letters, digits, "-", "_" and ".". */
export function labelValueProblems(value: string): string[] {
  if (value.length > MAX_LABEL_LENGTH) {
    return [`has ${value.length} characters; the maximum is 63`];
  }
  if (value !== "" && !QUALIFIED_NAME_PART.test(value)) {
    return [NAME_CHARACTERS];
  }
  return [];
}

/** Checks an RFC 1123 label of at most 63 characters, the format of container names. */
export function dnsLabelProblems(value: string): string[] {
  if (value.length > MAX_LABEL_LENGTH) {
    return [`has ${value.length} characters; the maximum is 63`];
  }
  if (!DNS1123_LABEL.test(value)) {
    return [
      'must be lowercase letters, digits and "-", starting and ending with a letter or digit',
    ];
  }
  return [];
}

/** Checks an RFC 1123 subdomain of at most 253 characters, the format of node names. */
export function dnsSubdomainProblems(value: string): string[] {
  if (value.length > MAX_SUBDOMAIN_LENGTH) {
    return [`has ${value.length} characters; the maximum is 253`];
  }
  if (!DNS1123_SUBDOMAIN.test(value)) {
    return ['must be lowercase RFC 1123 labels ("a-z", "0-9", "-") separated by "."'];
  }
  return [];
}

/** Tells whether `value` is a string that Go's strconv.ParseInt(value, 10, 64) accepts. */
export function isInt64(value: unknown): boolean {
  if (typeof value !== "string" || !DECIMAL_INTEGER.test(value)) {
    return false;
  }
  const parsed = BigInt(value);
  return parsed >= INT64_MIN && parsed <= INT64_MAX;
}
