/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * PF_VJCHAN: Van Jacobson network channels.
 *
 * See Documentation/networking/vjchan.rst.
 */
#ifndef _UAPI_LINUX_VJCHAN_H
#define _UAPI_LINUX_VJCHAN_H

#include <linux/types.h>

/*
 * Address family and socket option level.  Address family numbers are not
 * part of the kernel's uapi headers; like libbpf does for AF_XDP, they are
 * provided here for user space.  They match include/linux/socket.h.
 */
#ifndef AF_VJCHAN
#define AF_VJCHAN	46
#endif
#ifndef PF_VJCHAN
#define PF_VJCHAN	AF_VJCHAN
#endif
#ifndef SOL_VJCHAN
#define SOL_VJCHAN	288
#endif

/* socket(PF_VJCHAN, SOCK_RAW, VJCHAN_PROTO_DEFAULT) */
#define VJCHAN_PROTO_DEFAULT	0

#endif /* _UAPI_LINUX_VJCHAN_H */
