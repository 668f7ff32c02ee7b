/**
 * The push services of the fan-out benchmark, in a process of their own so that their
 * CPU is not Nudge's: the protocol-level fake APNs and FCM of the test suite (HTTP/2
 * over TLS with a CA made at start). Driven over IPC by bench/fanout.ts (see
 * bench/fanout-fakes-client.ts): told how many pushes to expect, they say when the
 * first and the last of them were accepted, and count what they received.
 */
import {
  generateApnsSigningKey,
  startFakeApns,
  type FakeApns,
} from "../test/support/fake-apns.ts";
import { startFakeFcm, type FakeFcm } from "../test/support/fake-fcm.ts";
import { testCertificates } from "../test/support/test-ca.ts";
import {
  APNS_TEAM,
  epochNow,
  type Arrival,
  type FakesReady,
  type FakesRequest,
  type FakesResponse,
  type ProviderCounts,
} from "./fanout-fakes-client.ts";

function send(message: FakesReady | FakesResponse): void {
  process.send?.(message);
}

/** When the first and the `count`-th push since the last reset were accepted. */
async function arrivals(
  waitFor: (count: number) => Promise<void>,
  count: number,
): Promise<Arrival> {
  if (count === 0) return { first: undefined, last: undefined };
  const first = waitFor(1).then(epochNow);
  const last = waitFor(count).then(epochNow);
  return { first: await first, last: await last };
}

function countsOf(
  tokens: readonly string[],
  requests: number,
  rejections: readonly string[],
): ProviderCounts {
  return {
    accepted: tokens.length,
    distinctTokens: new Set(tokens).size,
    requests,
    rejections: rejections.slice(0, 5),
  };
}

async function main(): Promise<void> {
  const signing = generateApnsSigningKey();
  const apns: FakeApns = await startFakeApns({
    ...APNS_TEAM,
    publicKey: signing.publicKey,
  });
  const fcm: FakeFcm = await startFakeFcm({ projectId: "nudge-bench" });
  // Request counts when the current measurement began: the fakes count since start.
  let apnsRequestsBefore = 0;
  let fcmRequestsBefore = 0;
  let fcmRejectionsBefore = 0;

  const handle = async (request: FakesRequest): Promise<FakesResponse> => {
    switch (request.type) {
      case "expect": {
        // A new measurement: forget the last one's pushes (they hold every payload).
        apns.received.length = 0;
        fcm.received.length = 0;
        apnsRequestsBefore = apns.requestCount();
        fcmRequestsBefore = fcm.requestCount();
        fcmRejectionsBefore = fcm.rejections.length;
        const arrived = Promise.all([
          arrivals((n) => apns.waitForPushes(n), request.apns),
          arrivals(
            (n) => fcm.waitForReceived(n, request.timeoutMs),
            request.fcm,
          ),
        ]);
        send({ type: "expecting", id: request.id });
        const [apnsArrival, fcmArrival] = await arrived;
        return {
          type: "arrived",
          id: request.id,
          apns: apnsArrival,
          fcm: fcmArrival,
        };
      }
      case "count":
        return {
          type: "counts",
          id: request.id,
          apns: countsOf(
            apns.received.map((p) => p.token),
            apns.requestCount() - apnsRequestsBefore,
            [],
          ),
          fcm: countsOf(
            fcm.received.map((m) => String(m.message.token)),
            fcm.requestCount() - fcmRequestsBefore,
            fcm.rejections.slice(fcmRejectionsBefore),
          ),
        };
    }
  };

  process.on("message", (request: FakesRequest) => {
    handle(request).then(send, (error: unknown) => {
      send({
        type: "failed",
        id: request.id,
        message: error instanceof Error ? error.message : String(error),
      });
    });
  });
  // The benchmark went away (ended or crashed): so do the fakes.
  process.on("disconnect", () => {
    void Promise.all([apns.close(), fcm.close()]).finally(() =>
      process.exit(0),
    );
  });
  send({
    type: "ready",
    ca: testCertificates().ca,
    apnsKeyP8: signing.p8,
    apnsPort: apns.port,
    fcmOrigin: fcm.origin,
    fcmProjectId: fcm.projectId,
    fcmAccessToken: fcm.accessToken,
  });
}

await main();
