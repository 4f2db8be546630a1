/*
 * sansws lwIP shim: turns netconn's macros into functions and keeps lwIP's
 * configuration-dependent structs opaque, so the Rust side sees pointers
 * and plain functions returning int (err_t values).
 *
 * Compiled by build.rs on a Linux host (pkg-config lwip). On ESP-IDF,
 * compile this file inside the firmware's own build (see the README), so it
 * sees that project's lwipopts.h / sdkconfig.
 *
 * Thread rules: every function here may be called from any task that is not
 * the tcpip thread; calls that touch a pcb directly go through
 * tcpip_callback_wait. One netconn must not be read and written from two
 * tasks at once unless LWIP_NETCONN_FULLDUPLEX is 1 (ESP-IDF sets it;
 * Debian's build does not).
 */
#include <stddef.h>
#include <stdint.h>

#include "lwip/opt.h"
#include "lwip/api.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/sys.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"

static void to_ip(ip_addr_t *a, const uint8_t ip[4]) {
    IP_ADDR4(a, ip[0], ip[1], ip[2], ip[3]);
}

int sansws_netconn_new_tcp(struct netconn **out) {
    *out = netconn_new(NETCONN_TCP);
    return *out ? ERR_OK : ERR_MEM;
}

int sansws_netconn_bind(struct netconn *c, const uint8_t ip[4], uint16_t port) {
    ip_addr_t a;
    to_ip(&a, ip);
    return netconn_bind(c, &a, port);
}

int sansws_netconn_listen(struct netconn *c) { return netconn_listen(c); }

int sansws_netconn_accept(struct netconn *c, struct netconn **out) {
    return netconn_accept(c, out);
}

int sansws_netconn_connect(struct netconn *c, const uint8_t ip[4], uint16_t port) {
    ip_addr_t a;
    to_ip(&a, ip);
    return netconn_connect(c, &a, port);
}

int sansws_netconn_recv(struct netconn *c, struct netbuf **out) {
    return netconn_recv(c, out);
}

int sansws_netbuf_data(struct netbuf *nb, void **data, uint16_t *len) {
    return netbuf_data(nb, data, len);
}

/* 0 or 1: moved to the next part; -1: no more parts. */
int sansws_netbuf_next(struct netbuf *nb) { return netbuf_next(nb); }

void sansws_netbuf_delete(struct netbuf *nb) { netbuf_delete(nb); }

int sansws_netconn_write_partly(struct netconn *c, const void *data, size_t len,
                                size_t *written) {
    return netconn_write_partly(c, data, len, NETCONN_COPY, written);
}

void sansws_netconn_set_recvtimeout(struct netconn *c, int ms) {
#if LWIP_SO_RCVTIMEO
    netconn_set_recvtimeout(c, ms);
#else
    (void)c;
    (void)ms;
#endif
}

int sansws_netconn_shutdown(struct netconn *c, int rx, int tx) {
    return netconn_shutdown(c, (u8_t)rx, (u8_t)tx);
}

int sansws_netconn_close(struct netconn *c) { return netconn_close(c); }

int sansws_netconn_delete(struct netconn *c) { return netconn_delete(c); }

static void nagle_off(void *ctx) {
    struct netconn *c = (struct netconn *)ctx;
    if (c->pcb.tcp != NULL) {
        tcp_nagle_disable(c->pcb.tcp);
    }
}

/* Nagle plus delayed ACK stalls small WebSocket frames; netconn has no
 * call for it, so it is done on the pcb, in tcpip context. */
int sansws_netconn_nagle_off(struct netconn *c) {
    return tcpip_callback_wait(nagle_off, c);
}

static void abort_cb(void *ctx) {
    struct netconn *c = (struct netconn *)ctx;
    if (c->pcb.tcp != NULL) {
        tcp_abort(c->pcb.tcp);
    }
}

/* Resets the connection (RST), as a peer that crashes would. */
int sansws_netconn_abort(struct netconn *c) { return tcpip_callback_wait(abort_cb, c); }

#ifdef SANSWS_LWIP_HOST
/* Host tests only: start the stack and add a loopback netif on 127.0.0.1
 * (Debian's lwIP has LWIP_NETIF_LOOPBACK but no built-in loop interface). */
static struct netif loop_netif;

static err_t loop_output4(struct netif *n, struct pbuf *p, const ip4_addr_t *a) {
    (void)a;
    return netif_loop_output(n, p);
}

#if LWIP_IPV6
static err_t loop_output6(struct netif *n, struct pbuf *p, const ip6_addr_t *a) {
    (void)a;
    return netif_loop_output(n, p);
}
#endif

static err_t loop_init(struct netif *n) {
    n->name[0] = 'l';
    n->name[1] = 'o';
    n->mtu = 1500;
    n->flags = 0;
    n->output = loop_output4;
#if LWIP_IPV6
    n->output_ip6 = loop_output6;
#endif
    return ERR_OK;
}

static void add_loop(void *ctx) {
    (void)ctx;
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, 127, 0, 0, 1);
    IP4_ADDR(&mask, 255, 0, 0, 0);
    IP4_ADDR(&gw, 0, 0, 0, 0);
    netif_add(&loop_netif, &ip, &mask, &gw, NULL, loop_init, tcpip_input);
    netif_set_default(&loop_netif);
    netif_set_link_up(&loop_netif);
    netif_set_up(&loop_netif);
}

static void init_done(void *arg) { sys_sem_signal((sys_sem_t *)arg); }

int sansws_lwip_host_init(void) {
    sys_sem_t done;
    if (sys_sem_new(&done, 0) != ERR_OK) {
        return ERR_MEM;
    }
    tcpip_init(init_done, &done);
    sys_sem_wait(&done);
    sys_sem_free(&done);
    return tcpip_callback_wait(add_loop, NULL);
}
#endif
