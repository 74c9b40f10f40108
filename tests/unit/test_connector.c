/* test_connector.c — sk_connect_start / sk_connect_cancel: a cancelled
 * connect never calls back (and leaks nothing: run under ASan), one left
 * alone calls back once with its connected socket. */
#include "sockit/listener.h"

#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ctx {
    sk_loop *loop;
    int calls, status;
} ctx;

static void on_connected(int fd, int status, void *ud)
{
    ctx *c = ud;
    c->calls++;
    c->status = status;
    if (fd >= 0)
        close(fd);
    sk_loop_stop(c->loop);
}

static void on_timer(sk_timer *t, void *ud) { sk_loop_stop(ud); }

/* A listening socket on loopback and its address. */
static int listener(sk_sockaddr *a)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in *in = (struct sockaddr_in *)&a->ss;
    memset(a, 0, sizeof *a);
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->len = sizeof *in;
    CHECK_EQ_INT(bind(fd, (struct sockaddr *)in, a->len), 0);
    CHECK_EQ_INT(listen(fd, 8), 0);
    CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&a->ss, &a->len), 0);
    return fd;
}

static void test_cancelled_connect_never_calls_back(void)
{
    ctx c = {0};
    sk_sockaddr a;
    int l = listener(&a);
    CHECK_EQ_INT(sk_loop_new(&c.loop), 0);
    sk_connector *cx = NULL;
    CHECK_EQ_INT(sk_connect_start(c.loop, &a, NULL, NULL, on_connected, &c, &cx), 0);
    CHECK(cx != NULL);
    sk_connect_cancel(cx);
    sk_timer *t = sk_timer_new(c.loop, on_timer, c.loop);
    sk_timer_start(t, 50, 0); /* long enough for the connect to have completed */
    sk_loop_run(c.loop);
    CHECK_EQ_INT(c.calls, 0);
    sk_connect_cancel(NULL); /* ignored */
    sk_timer_free(t);
    sk_loop_free(c.loop);
    close(l);
}

static void test_connect_left_alone_calls_back_once(void)
{
    ctx c = {0};
    sk_sockaddr a;
    int l = listener(&a);
    CHECK_EQ_INT(sk_loop_new(&c.loop), 0);
    sk_connector *cx = NULL;
    CHECK_EQ_INT(sk_connect_start(c.loop, &a, NULL, NULL, on_connected, &c, &cx), 0);
    sk_loop_run(c.loop);
    CHECK_EQ_INT(c.calls, 1);
    CHECK_EQ_INT(c.status, 0);
    sk_loop_free(c.loop);
    close(l);
}

int main(void)
{
    test_cancelled_connect_never_calls_back();
    test_connect_left_alone_calls_back_once();
    return check_done("test_connector");
}
