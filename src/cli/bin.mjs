#!/usr/bin/env node
// Installed entry point of the kube-image-cache command. The sources are TypeScript, so tsx is
// registered as a module loader before main.ts is imported.
import { register } from "tsx/esm/api";

register();
const { main } = await import("./main.ts");
await main();
