// The layer report as a table for people. The JSON form (`-o json`) is the LayerReport object
// itself, with sizes in bytes.
import { KUBELET_MAX_REPORTED_IMAGES } from "../inventory/inventory.ts";
import type { LayerReport } from "./layer-report.ts";

/** Formats the report as sections of aligned columns. */
export function formatReportTable(report: LayerReport): string {
  const sections = [
    overview(report),
    layerSection(report),
    candidateSection(report),
    limitSection(report),
    unreadSection(report),
  ];
  return `${sections.join("\n\n")}\n`;
}

function overview(report: LayerReport): string {
  const lines = [`nodes: ${report.nodes}`];
  if (report.nodesWithoutPlatform.length > 0) {
    lines.push(
      `  without a known OS and architecture, so their layers are not counted: ${report.nodesWithoutPlatform.join(", ")}`,
    );
  }
  lines.push(
    `images: ${report.imageEntries} on nodes, ${report.distinctImages} distinct, ` +
      `${report.readImages} with a readable manifest`,
  );
  return lines.join("\n");
}

function layerSection(report: LayerReport): string {
  const { layers } = report;
  const saved = layers.unsharedBytes - layers.storedBytes;
  const share = layers.unsharedBytes === 0 ? 0 : (saved / layers.unsharedBytes) * 100;
  const rows = [
    ["unique layers", String(layers.unique), formatBytes(layers.uniqueBytes), "one copy each"],
    [
      "layer references",
      String(layers.references),
      formatBytes(layers.storedBytes),
      "stored on nodes, each layer once per node",
    ],
    ["without sharing", "", formatBytes(layers.unsharedBytes), "every image's layers in full"],
    ["saved by sharing", "", formatBytes(saved), `${share.toFixed(1)} %`],
  ];
  return [
    "layers (compressed sizes from image manifests; images without one are not counted):",
    ...alignColumns(rows, [false, true, true, false]).map((line) => `  ${line}`),
  ].join("\n");
}

function candidateSection(report: LayerReport): string {
  const title = "images most worth pre-pulling (score: holders x missing bytes / eligible nodes):";
  if (report.prepullCandidates.length === 0) {
    const cause =
      report.readImages === 0
        ? "no image manifest was read"
        : "every readable image is on every node it can run on";
    return `${title}\n  none: ${cause}`;
  }
  const rows = [
    ["IMAGE", "ON NODES", "SIZE", "MISSING", "SCORE"],
    ...report.prepullCandidates.map((candidate) => [
      candidate.image,
      `${candidate.holders} of ${candidate.eligibleNodes}`,
      formatBytes(candidate.sizeBytes),
      formatBytes(candidate.missingBytes),
      formatBytes(candidate.score),
    ]),
  ];
  return [title, ...alignColumns(rows, [false, true, true, true, true]).map((l) => `  ${l}`)].join(
    "\n",
  );
}

function limitSection(report: LayerReport): string {
  const title = `nodes near the kubelet's limit of ${KUBELET_MAX_REPORTED_IMAGES} reported images (nodeStatusMaxImages):`;
  if (report.nearImageLimit.length === 0) {
    return `${title}\n  none`;
  }
  const rows = [
    ["NODE", "IMAGES"],
    ...report.nearImageLimit.map((node) => [
      node.node,
      node.imageCount >= KUBELET_MAX_REPORTED_IMAGES
        ? `${node.imageCount} (at the limit: the node may hold images it does not report)`
        : String(node.imageCount),
    ]),
  ];
  return [title, ...alignColumns(rows, [false, false]).map((line) => `  ${line}`)].join("\n");
}

function unreadSection(report: LayerReport): string {
  const title = "manifests not read (these images add no layers or bytes above):";
  if (report.unreadManifests.length === 0) {
    return `${title}\n  none`;
  }
  const rows = [
    ["IMAGE", "NODES", "REASON"],
    ...report.unreadManifests.map((entry) => [entry.image, String(entry.nodes), entry.reason]),
  ];
  return [title, ...alignColumns(rows, [false, true, false]).map((line) => `  ${line}`)].join("\n");
}

/** Pads each column to its widest cell; `right` marks the columns aligned to the right. */
function alignColumns(rows: readonly string[][], right: readonly boolean[]): string[] {
  const widths = right.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  return rows.map((row) =>
    row
      .map((cell, column) => {
        const width = widths[column] ?? 0;
        return right[column] === true ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd(),
  );
}

/** Formats bytes in decimal units (kB, MB, GB), as registries and image tools quote sizes. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
