// oidc-provider ships no type declarations; the tests use it through the few calls in oidc-idp.ts.
declare module 'oidc-provider' {
  const Provider: any;
  export default Provider;
}
