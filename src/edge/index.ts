export { FHIR_JSON } from './fhir-routes.js';
export { buildHttpApp, type HttpApp, type HttpAppOptions } from './http-app.js';
export { PUBLIC, type RouteAction } from './routes.js';
