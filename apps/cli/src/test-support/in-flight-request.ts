import { connect } from 'node:net';

/** A prediction request kept in flight: its headers and the first part of its body are sent, the rest waits. */
export interface InFlightRequest {
  /** Sends the rest of the body. */
  finish(): void;
  /** All the server sent, once it closes the connection. */
  readonly response: Promise<string>;
}

/** Starts `POST /v1/predict` of `body` on a raw connection to `url`, sending only its first `sentBytes` characters. */
export async function startPredictRequest(url: URL, body: string, sentBytes: number): Promise<InFlightRequest> {
  const socket = connect(Number(url.port), url.hostname);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString()));
  const response = new Promise<string>((resolve) => socket.once('close', () => resolve(received)));
  socket.write(
    `POST /v1/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, sentBytes)}`,
  );
  return { finish: () => socket.write(body.slice(sentBytes)), response };
}
