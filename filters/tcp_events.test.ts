// filters/tcp_events.ts on a few frames: everything passes; a SYN and a RST each put one
// record in the `events` ring buffer, a plain ACK none.
import { expect, it } from "vitest";
import { EventReader } from "../runtime/observe/events.ts";
import { describeFilter } from "../test/support/filtertest.ts";
import { tcp4, TCP_ACK, TCP_RST, TCP_SYN } from "../runtime/packets/build.ts";

describeFilter("tcp_events", (f) => {
  it("every packet passes; SYN and RST are reported", () => {
    const r = f().run(
      tcp4({ flags: TCP_SYN, dport: 443 }),
      tcp4({ flags: TCP_ACK, dport: 443 }),
      tcp4({ flags: TCP_RST, dport: 443 }),
    );
    expect(r.map((x) => x.name)).toEqual(["XDP_PASS", "XDP_PASS", "XDP_PASS"]);
    const events = EventReader.fromObject(f().obj.object, f().bytes, "events");
    try {
      expect(events.consume()).toBe(2);
    } finally {
      events.close();
    }
  });
});
