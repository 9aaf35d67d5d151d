export { buildHttpApp, FHIR_JSON, type HttpApp, type HttpAppOptions } from './http-app.js';
export { PUBLIC, type RouteAction } from './routes.js';
