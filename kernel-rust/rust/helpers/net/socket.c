// SPDX-License-Identifier: GPL-2.0

#include <linux/sockptr.h>
#include <net/sock.h>

#ifdef CONFIG_NET

__rust_helper int rust_helper_copy_safe_from_sockptr(void *dst, size_t ksize,
						     sockptr_t optval,
						     unsigned int optlen)
{
	return copy_safe_from_sockptr(dst, ksize, optval, optlen);
}

__rust_helper void rust_helper_sock_orphan(struct sock *sk)
{
	sock_orphan(sk);
}

__rust_helper void rust_helper_sock_put(struct sock *sk)
{
	sock_put(sk);
}

__rust_helper void rust_helper_sock_hold(struct sock *sk)
{
	sock_hold(sk);
}

__rust_helper struct net *rust_helper_sock_net(const struct sock *sk)
{
	return sock_net(sk);
}

__rust_helper void rust_helper_sock_poll_wait(struct file *filp,
					      struct socket *sock,
					      poll_table *p)
{
	sock_poll_wait(filp, sock, p);
}

__rust_helper void rust_helper_sock_set_flag(struct sock *sk,
					     enum sock_flags flag)
{
	sock_set_flag(sk, flag);
}

/* sk_net_capable() of a socket that may be a kernel socket, which has no file
 * whose opener's credentials could be checked.
 */
__rust_helper bool rust_helper_sk_net_capable_or_kern(const struct sock *sk,
						      int cap)
{
	if (!sk->sk_socket || !sk->sk_socket->file)
		return sk->sk_kern_sock;
	return sk_net_capable(sk, cap);
}

/* Sets the socket's pending error and wakes its users. */
__rust_helper void rust_helper_sk_report_error(struct sock *sk, int err)
{
	WRITE_ONCE(sk->sk_err, err);
	sk_error_report(sk);
}

/*
 * Where a Rust protocol family keeps a socket's private data: right after
 * struct sock, as the C compiler lays it out (bindgen's view of struct sock
 * need not match it, e.g. on lockdep kernels).
 */
__rust_helper size_t rust_helper_sock_priv_offset(void)
{
	return ALIGN(sizeof(struct sock), sizeof(void *));
}

#endif
