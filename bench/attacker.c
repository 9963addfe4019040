/* The resilience bench's attacker (bench/lib/resilience.ts builds it into build/bench/attacker).
 *
 *   attacker PORT RATE ID[,ID...]
 *   attacker PORT RATE version
 *
 * Opens RATE connections a second to 127.0.0.1:PORT, each sending `debug_fault <id>\r\n` (ids
 * cycled), or `version\r\n` and closing on the reply (the control: the same connections
 * without a fault), at most 256 in flight, until SIGTERM; then waits for those in flight (at most 3 s) and
 * prints one JSON line: how each connection ended and the CPU this process used (getrusage).
 * An attacker on another host would cost the server's machine nothing; this one shares its
 * cores, so it is written in C to take as little as it can, and it reports what it took.
 *
 * Endings: closed (EOF or reset with nothing received: the server rewound the fault and
 * closed the connection), reply (bytes came back: nothing caught the fault), refused, timeout (3 s).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_IN_FLIGHT 256
#define TIMEOUT_NS 3000000000LL

struct conn { int fd; int sent; int id; long long started; };

static volatile sig_atomic_t stopping;
static void on_term(int sig) { (void)sig; stopping = 1; }

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: attacker PORT RATE ID[,ID...]\n"); return 2; }
  int port = atoi(argv[1]);
  double rate = atof(argv[2]);
  int ids[64], nids = 0;
  const int control = strcmp(argv[3], "version") == 0;
  if (control) ids[nids++] = 0;
  else for (char *p = strtok(argv[3], ","); p && nids < 64; p = strtok(NULL, ",")) ids[nids++] = atoi(p);
  if (port <= 0 || rate <= 0 || nids == 0) { fprintf(stderr, "attacker: bad arguments\n"); return 2; }

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  int ep = epoll_create1(EPOLL_CLOEXEC);
  static struct conn conns[MAX_IN_FLIGHT];
  int free_slots[MAX_IN_FLIGHT], nfree = MAX_IN_FLIGHT, in_flight = 0;
  for (int i = 0; i < MAX_IN_FLIGHT; i++) { free_slots[i] = MAX_IN_FLIGHT - 1 - i; conns[i].fd = -1; }
  unsigned long long attempted = 0, closed = 0, reply = 0, refused = 0, timeout = 0, other = 0;

  const long long t0 = now_ns();
  long long stop_at = 0;
  char buf[4096];
  struct epoll_event evs[64];
  for (;;) {
    long long now = now_ns();
    if (stopping && !stop_at) stop_at = now;
    if (stop_at && (in_flight == 0 || now - stop_at > TIMEOUT_NS)) break;
    /* open the connections due by now */
    while (!stop_at && nfree > 0 && (double)(now - t0) * rate / 1e9 >= (double)attempted) {
      int slot = free_slots[--nfree];
      int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) { free_slots[nfree++] = slot; other++; attempted++; break; }
      int id = ids[attempted % (unsigned)nids];
      attempted++;
      if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        if (errno == ECONNREFUSED) refused++; else other++;
        close(fd);
        free_slots[nfree++] = slot;
        continue;
      }
      conns[slot].fd = fd;
      conns[slot].sent = 0;
      conns[slot].id = id;
      conns[slot].started = now;
      struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data.u32 = (unsigned)slot };
      epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
      in_flight++;
    }
    /* sleep until the next one is due (or 10 ms at most, to check timeouts and SIGTERM) */
    long long next = t0 + (long long)((double)attempted * 1e9 / rate);
    int wait_ms = stop_at ? 10 : (int)((next - now + 999999) / 1000000); /* rounded up: never spin */
    if (wait_ms < 0) wait_ms = 0;
    if (wait_ms > 10) wait_ms = 10;
    int n = epoll_wait(ep, evs, 64, wait_ms);
    for (int i = 0; i < n; i++) {
      int slot = (int)evs[i].data.u32;
      struct conn *c = &conns[slot];
      int end = 0; /* 1 closed, 2 reply, 3 refused, 4 other */
      if (!c->sent && (evs[i].events & EPOLLOUT) && !(evs[i].events & EPOLLERR)) {
        char line[32];
        int len = control ? snprintf(line, sizeof line, "version\r\n") : snprintf(line, sizeof line, "debug_fault %d\r\n", c->id);
        if (write(c->fd, line, (size_t)len) == len) {
          c->sent = 1;
          struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = (unsigned)slot };
          epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        }
      }
      if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        ssize_t r = read(c->fd, buf, sizeof buf);
        if (r > 0) end = 2;
        else if (r == 0) end = c->sent ? 1 : 4;
        else if (errno == ECONNREFUSED) end = 3;
        else if (errno == ECONNRESET) end = c->sent ? 1 : 4;
        else if (errno != EAGAIN) end = 4;
      }
      if (end) {
        if (end == 1) closed++; else if (end == 2) reply++; else if (end == 3) refused++; else other++;
        close(c->fd); /* closing removes it from the epoll set */
        c->fd = -1;
        free_slots[nfree++] = slot;
        in_flight--;
      }
    }
    now = now_ns();
    for (int s = 0; s < MAX_IN_FLIGHT; s++) {
      if (conns[s].fd >= 0 && now - conns[s].started > TIMEOUT_NS) {
        close(conns[s].fd);
        conns[s].fd = -1;
        free_slots[nfree++] = s;
        in_flight--;
        timeout++;
      }
    }
  }
  for (int s = 0; s < MAX_IN_FLIGHT; s++) if (conns[s].fd >= 0) { close(conns[s].fd); timeout++; }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  printf("{\"attempted\":%llu,\"closed\":%llu,\"reply\":%llu,\"refused\":%llu,\"timeout\":%llu,\"other\":%llu,\"seconds\":%.3f,\"cpu_seconds\":%.3f}\n",
         attempted, closed, reply, refused, timeout, other, (double)(now_ns() - t0) / 1e9, cpu);
  return 0;
}
