// The C reference AF_XDP consumer for `npm run bench`: libxdp's xsk.h rings (the
// static inline producer/consumer functions the Wasm batch loop reimplements), one
// socket on one queue, copy or zero-copy as the driver allows, need_wakeup on. Each
// batch: completions are not needed (RX only), peek up to BATCH RX descriptors, touch
// each frame as the bench's Wasm handler does on its drop path (EtherType, IPv4
// version/IHL and protocol, UDP destination port), and put every frame straight back
// on the fill ring. The idle policy is the Wasm worker's: SPINS empty batches, then
// poll() for up to 100 ms. The socket goes into an existing XskMap (by map id) at its
// queue index; the XDP program is the caller's.
//
// usage: xsk_consumer IFNAME QUEUE XSKMAP_ID RING FRAMES BATCH SPINS CPU
// prints "ready" once the socket is in the map; on SIGTERM/SIGINT it drains what has
// arrived and prints one JSON line of counters.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>
#include "xsk_batch.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

static void die(const char *what, int err) {
  fprintf(stderr, "xsk_consumer: %s: %s\n", what, strerror(err < 0 ? -err : err));
  exit(1);
}

int main(int argc, char **argv) {
  if (argc != 9) {
    fprintf(stderr, "usage: xsk_consumer IFNAME QUEUE XSKMAP_ID RING FRAMES BATCH SPINS CPU\n");
    return 2;
  }
  const char *ifname = argv[1];
  uint32_t queue = (uint32_t)atoi(argv[2]);
  uint32_t map_id = (uint32_t)atoi(argv[3]);
  uint32_t ring = (uint32_t)atoi(argv[4]);
  uint32_t frames = (uint32_t)atoi(argv[5]);
  uint32_t batch = (uint32_t)atoi(argv[6]);
  uint32_t spins = (uint32_t)atoi(argv[7]);
  int cpu = atoi(argv[8]);

  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set)) die("sched_setaffinity", errno);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  size_t umem_len = (size_t)frames * FRAME_SIZE;
  void *buf = mmap(NULL, umem_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (buf == MAP_FAILED) die("mmap UMEM", errno);

  /* Zeroed, as libxdp's own users allocate them: a field the library does not set must not be
     stack garbage (the first reserve of the whole fill ring failed once, "initial fill"). */
  struct xsk_ring_prod fq = {0}, tx = {0};
  struct xsk_ring_cons cq = {0}, rx = {0};
  struct xsk_umem *umem;
  struct xsk_umem_config ucfg = {
      .fill_size = ring, .comp_size = ring, .frame_size = FRAME_SIZE, .frame_headroom = 0, .flags = 0};
  int err = xsk_umem__create(&umem, buf, umem_len, &fq, &cq, &ucfg);
  if (err) die("xsk_umem__create", err);

  struct xsk_socket *xsk;
  struct xsk_socket_config scfg = {.rx_size = ring, .tx_size = ring};
  scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
  scfg.bind_flags = XDP_USE_NEED_WAKEUP;
  /* A queue let go by a socket just closed is released in deferred work: EBUSY for a moment. */
  for (int tries = 0;; tries++) {
    err = xsk_socket__create(&xsk, ifname, queue, umem, &rx, &tx, &scfg);
    if (err != -EBUSY || tries >= 100) break;
    poll(NULL, 0, 10);
  }
  if (err) die("xsk_socket__create", err);

  int map_fd = bpf_map_get_fd_by_id(map_id);
  if (map_fd < 0) die("bpf_map_get_fd_by_id", errno);
  err = xsk_socket__update_xskmap(xsk, map_fd);
  if (err) die("xsk_socket__update_xskmap", err);

  /* Fill the fill ring once: frames [0, ring); the rest of the UMEM stays spare as in the Wasm run. */
  uint32_t idx;
  if (xsk_ring_prod__reserve(&fq, ring, &idx) != ring) die("initial fill", ENOSPC);
  for (uint32_t i = 0; i < ring; i++) *xsk_ring_prod__fill_addr(&fq, idx + i) = (uint64_t)i * FRAME_SIZE;
  xsk_ring_prod__submit(&fq, ring);

  int fd = xsk_socket__fd(xsk);
  struct pollfd pfd = {.fd = fd, .events = POLLIN};
  printf("ready\n");
  fflush(stdout);

  uint32_t idle = 0;
  int quiet = 0;
  for (;;) {
    uint32_t n = drop_batch(&rx, &fq, buf, batch, &pfd);
    if (n > 0) {
      idle = 0;
      quiet = 0;
      if (xsk_ring_prod__needs_wakeup(&fq)) poll(&pfd, 1, 0);
      continue;
    }
    if (stop) {
      /* Stopping: two quiet rounds (1 ms polls) end it, as the Wasm worker does. */
      if (++quiet >= 2) break;
      poll(&pfd, 1, 1);
      continue;
    }
    if (++idle >= spins) {
      poll(&pfd, 1, 100);
      idle = 0;
    }
  }

  struct xdp_statistics st;
  socklen_t sl = sizeof st;
  memset(&st, 0, sizeof st);
  if (getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &sl)) die("XDP_STATISTICS", errno);
  printf("{\"rx\":%llu,\"udp\":%llu,\"port7\":%llu,\"rxDropped\":%llu,\"rxInvalid\":%llu,"
         "\"rxRingFull\":%llu,\"fillRingEmpty\":%llu}\n",
         (unsigned long long)rx_frames, (unsigned long long)touched_udp, (unsigned long long)port7,
         (unsigned long long)st.rx_dropped, (unsigned long long)st.rx_invalid_descs,
         (unsigned long long)st.rx_ring_full, (unsigned long long)st.rx_fill_ring_empty_descs);
  fflush(stdout);
  xsk_socket__delete(xsk);
  xsk_umem__delete(umem);
  munmap(buf, umem_len);
  return 0;
}
