// An OpenID provider for the tests: oauth2-mock-server (MIT) on a free port, signing ID tokens with a fresh RS256
// key, with the claims of the person in CLAIMS (JSON) added to every ID token. It prints its issuer URL, then
// serves until stopped.
import { OAuth2Server } from "oauth2-mock-server";

const claims = JSON.parse(process.env.CLAIMS || "{}");
const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
server.service.on("beforeTokenSigning", (token) => { Object.assign(token.payload, claims); });
if (process.env.AUDIENCE) {
  server.service.on("beforeTokenSigning", (token) => { token.payload.aud = process.env.AUDIENCE; });
}
await server.start(Number(process.env.PORT || 0), "127.0.0.1");
console.log(server.issuer.url);
process.on("SIGTERM", async () => { await server.stop(); process.exit(0); });
