// The express application: POST /mutate, the health probes, /metrics, and JSON responses for
// unknown paths and unexpected errors. Transport (TLS, timeouts, shutdown) lives in serve.ts.
import express from "express";
import type { Express, NextFunction, Request, Response } from "express";

import { createMutateHandler, type MutateOptions } from "./mutate.ts";

/** Settings of the application: those of /mutate and the readiness check. */
export interface AppOptions extends MutateOptions {
  /** Whether the context provider has an inventory snapshot to review against. */
  readonly isReady: () => boolean;
}

const ROUTES = "POST /mutate, GET /healthz, GET /readyz, GET /metrics";

/** Creates the webhook's express application. Probes and /metrics are not logged. */
export function createApp(options: AppOptions): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    if (options.isReady()) {
      res.json({ status: "ready" });
    } else {
      res.status(503).json({ status: "not ready", reason: "no node inventory snapshot yet" });
    }
  });
  app.get("/metrics", async (_req, res) => {
    const { registry } = options.metrics;
    res.type(registry.contentType).send(await registry.metrics());
  });

  app.post("/mutate", createMutateHandler(options));
  app.all("/mutate", (req, res) => {
    res.set("Allow", "POST");
    res.status(405).json({ error: `method ${req.method} not allowed on /mutate; use POST` });
  });

  app.use((req, res) => {
    res.status(404).json({ error: `no route for ${req.method} ${req.path}; routes: ${ROUTES}` });
  });
  app.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status = clientErrorStatus(err) ?? 500;
    const fields = { err, method: req.method, path: req.path, status };
    if (status === 500) {
      options.logger.error(fields, "request failed");
    } else {
      options.logger.info(fields, "request rejected");
    }
    const message = status === 500 ? "internal error" : errorMessage(err);
    res.status(status).json({ error: message });
  });
  return app;
}

/** Returns the 4xx status an error carries (express and body-parser set `status`), if any. */
function clientErrorStatus(err: unknown): number | undefined {
  if (typeof err !== "object" || err === null || !("status" in err)) {
    return undefined;
  }
  const { status } = err;
  return typeof status === "number" && status >= 400 && status < 500 ? status : undefined;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
