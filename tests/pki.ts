/**
 * Throw-away certificate authorities and certificates for TLS tests, made with `openssl`.
 *
 * @module
 */

/** Paths of a certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/** Two CAs and certificates signed by them, in one directory. */
export interface Pki {
  dir: string;
  /** The CA JupyterHub's internal SSL would use. */
  ca: string;
  /** Another CA, whose certificates must be refused. */
  otherCa: string;
  /** A server certificate for 127.0.0.1 and localhost, signed by `ca`. */
  server: CertFiles;
  /** A client certificate signed by `ca` (CN `proxy-client`). */
  client: CertFiles;
  /** A client certificate signed by `otherCa`. */
  stranger: CertFiles;
  /** Removes the directory. */
  remove(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function makeCa(dir: string, name: string): Promise<string> {
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
  ], dir);
  return `${dir}/${name}.crt`;
}

async function makeCert(dir: string, name: string, ca: string, san: string): Promise<CertFiles> {
  await openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
  ], dir);
  await Deno.writeTextFile(
    `${dir}/${name}.ext`,
    `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`,
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${name}.ext`,
    "-out",
    `${name}.crt`,
  ], dir);
  return { cert: `${dir}/${name}.crt`, key: `${dir}/${name}.key` };
}

/** Makes a fresh `Pki` in a temporary directory. */
export async function makePki(): Promise<Pki> {
  const dir = await Deno.makeTempDir({ prefix: "jhtp-pki-" });
  const ca = await makeCa(dir, "ca");
  const otherCa = await makeCa(dir, "other-ca");
  return {
    dir,
    ca,
    otherCa,
    server: await makeCert(dir, "server", "ca", "IP:127.0.0.1,DNS:localhost"),
    client: await makeCert(dir, "proxy-client", "ca", "DNS:proxy-client"),
    stranger: await makeCert(dir, "stranger", "other-ca", "DNS:stranger"),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/** An https server (Python's ssl) that requires a client certificate signed by the CA. */
export interface MtlsTarget {
  url: string;
  close(): Promise<void>;
}

const TARGET = `
import base64, hashlib, http.server, json, ssl, sys
ca, cert, key = sys.argv[1:4]
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        peer = self.connection.getpeercert()
        subject = dict(item[0] for item in peer["subject"])
        if self.headers.get("upgrade", "").lower() == "websocket":
            # A websocket that answers one short text message (masked, < 126 bytes) and closes.
            accept = base64.b64encode(hashlib.sha1((self.headers["sec-websocket-key"] +
                "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
            self.send_response(101)
            self.send_header("upgrade", "websocket")
            self.send_header("connection", "Upgrade")
            self.send_header("sec-websocket-accept", accept)
            self.end_headers()
            self.wfile.flush()
            head = self.rfile.read(2)
            mask = self.rfile.read(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(head[1] & 0x7f)))
            reply = ("echo " + data.decode() + " to " + subject.get("commonName")).encode()
            self.wfile.write(bytes([0x81, len(reply)]) + reply + bytes([0x88, 2, 0x03, 0xe8]))
            self.wfile.flush()
            self.rfile.read(2)
            return
        body = json.dumps({"client": subject.get("commonName"), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=ca)
context.load_cert_chain(cert, key)
context.verify_mode = ssl.CERT_REQUIRED
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
`;

/** Starts an `MtlsTarget` with the server certificate of `pki`. */
export async function startMtlsTarget(pki: Pki): Promise<MtlsTarget> {
  const child = new Deno.Command("python3", {
    args: ["-c", TARGET, pki.ca, pki.server.cert, pki.server.key],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    line += value;
  }
  const port = Number(line.trim());
  return {
    url: `https://127.0.0.1:${port}`,
    async close() {
      child.kill("SIGTERM");
      await child.status;
      await reader.cancel().catch(() => {});
    },
  };
}
