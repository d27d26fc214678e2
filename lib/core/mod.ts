/**
 * The pure core, for uses beyond the hub proxy: routespecs in canonical form, traefik names,
 * rules and priorities, the dynamic configuration of routes and its way back, the key-value
 * layout shared with the Python jupyterhub-traefik-proxy, TOML/YAML, and the typed errors. No
 * I/O, no clock, no timers.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRoutespec, routeRule, routerName } from "./mod.ts";
 * const spec = parseRoutespec("/user/alice");
 * assert.equal(routerName(spec.routespec), "router__2Fuser_2Falice_2F");
 * assert.equal(routeRule(spec), 'Path("/user/alice") || PathPrefix("/user/alice/")');
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export type { ConfigTree, JsonValue, Route, RouteChange, RouteData } from "./types.ts";
export type { Mirror, MirrorTarget, Store } from "./store.ts";
export type { RouteConfirmer } from "./confirmer.ts";
export {
  canonicalSegment,
  encodedReserved,
  MAX_ROUTESPEC_LENGTH,
  normalizeRoutespec,
  type ParsedRoutespec,
  parseRoutespec,
  routingPath,
  type RoutingToken,
  routingTokens,
} from "./routespec.ts";
export { escapeName, routerName, routespecOfRouter, serviceName } from "./names.ts";
export {
  addRuleKeys,
  FALLBACK_PRIORITY,
  goString,
  ROUTE_PRIORITY_BASE,
  routePriority,
  routeRule,
  type RouteRuleOptions,
  routingHost,
  ruleKeys,
  type RuleScope,
  ruleScope,
  shortRuleAllowed,
  shortRuleAllowedFor,
} from "./rule.ts";
export { rawRequestPath } from "./request_path.ts";
export {
  FEED_STAMP_NAME,
  feedStampConfig,
  feedStampOf,
  type FeedWrite,
  type FeedWrites,
} from "./feed_stamp.ts";
export { mergeChanges } from "./route_change.ts";
export {
  type RequestTarget,
  type RouteIndex,
  routeIndex,
  routespecPrefixes,
} from "./route_index.ts";
export {
  createRoute,
  type CreateRouteOptions,
  MAX_DATA_LENGTH,
  MAX_TARGET_LENGTH,
  type RouteInput,
  validateData,
  validateTarget,
} from "./route.ts";
export {
  type ReadRoutes,
  routeConfig,
  type RouteConfigOptions,
  type RouteParts,
  routeParts,
  type RouterConfig,
  type RouteRecord,
  routesFromConfig,
  SENTINEL_NAME,
  sentinelConfig,
  type ServiceConfig,
  tableConfig,
} from "./route_config.ts";
export { diff, flatten, type KvDiff, unflatten } from "./kv.ts";
export {
  completeRecord,
  type KvLayoutOptions,
  type KvRoutes,
  RECORD_FIELDS,
  RECORD_KEYS,
  recordPrefix,
  routeFromRecord,
  routeKeys,
  routesFromKv,
  sentinelKeys,
} from "./kv_layout.ts";
export { deepMerge, isPlainObject } from "./tree.ts";
export { type ConfigFormat, formatOf, parseConfig, stringifyConfig } from "./config_format.ts";
export {
  type Drift,
  lastingDrift,
  routeDrift,
  type RouteDriftOptions,
  type TraefikRawData,
} from "./drift.ts";
export { type Labels, type MetricFamily, renderMetrics } from "./prometheus.ts";
