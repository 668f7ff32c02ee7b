/**
 * The baseline of the fan-out benchmark at one audience size: the bare HTTP/2 client
 * (bench/fanout-http2-client.ts, a process of its own) sending the same pushes
 * straight to the same fakes.
 */
import { runChildTask } from "./child-task.ts";
import { processCpuSeconds } from "./cpu-usage.ts";
import { APNS_TEAM, type FakeCounts } from "./fanout-fakes-client.ts";
import type { ClientRun, ClientSettings } from "./fanout-http2-client.ts";
import {
  APNS_TOPIC,
  difference,
  LANE_STREAMS,
  lastOf,
  pushesOf,
  rest,
  runTimeoutMs,
  withTimeout,
  type RunContext,
} from "./fanout-run-support.ts";
import { waitForQuietMachine } from "./machine-load.ts";

export type BaselineRun = {
  /** From the client's first connect to the last push accepted by the fakes. */
  seconds: number;
  client: ClientRun;
  fakesCpu: number | undefined;
  /** CPU the rest of the machine used meanwhile. */
  otherCpu: number | undefined;
  fakes: FakeCounts;
};

/** The bare client: the same pushes, straight to the same fakes. */
export async function measureBaseline(
  context: RunContext,
  users: number,
): Promise<BaselineRun> {
  const { fakes } = context;
  const expected = pushesOf(users);
  await waitForQuietMachine();
  const { arrived } = await fakes.expect(
    expected.apns,
    expected.fcm,
    runTimeoutMs(users),
  );
  const fakesCpuBefore = await processCpuSeconds(fakes.pid);
  const settings: ClientSettings = {
    users,
    ca: fakes.ready.ca,
    apnsPort: fakes.ready.apnsPort,
    apnsKeyP8: fakes.ready.apnsKeyP8,
    apnsKeyId: APNS_TEAM.keyId,
    apnsTeamId: APNS_TEAM.teamId,
    apnsTopic: APNS_TOPIC,
    apnsStreams: LANE_STREAMS.apns,
    fcmOrigin: fakes.ready.fcmOrigin,
    fcmProjectId: fakes.ready.fcmProjectId,
    fcmAccessToken: fakes.ready.fcmAccessToken,
    fcmStreams: LANE_STREAMS.fcm,
  };
  const client = await runChildTask<ClientRun>({
    name: "http2 client",
    script: "bench/fanout-http2-client.ts",
    cwd: context.repoRoot,
    env: { BENCH_FANOUT_CLIENT: JSON.stringify(settings) },
    timeoutMs: runTimeoutMs(users),
    signal: context.signal,
  });
  const arrival = await withTimeout(
    arrived,
    "the baseline's last push",
    runTimeoutMs(users),
  );
  const fakesCpuAfter = await processCpuSeconds(fakes.pid);
  const fakesCpu = difference(fakesCpuAfter, fakesCpuBefore);
  return {
    seconds: (lastOf(arrival) - client.startedAt) / 1000,
    client,
    fakesCpu,
    // The fakes idle before and after the client's window, so all of theirs is in it.
    otherCpu: rest(client.machineCpuSeconds, [client.cpuSeconds, fakesCpu]),
    fakes: await fakes.counts(),
  };
}
