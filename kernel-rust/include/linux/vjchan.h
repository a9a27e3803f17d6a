/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network channels (PF_VJCHAN): the interface for network drivers.
 *
 * A channel is bound to one receive queue of a device.  A driver that
 * supports channels asks, for each receive queue, whether a channel is bound
 * to it (vj_rx_channel()).  There are two ways to fill it:
 *
 * - A driver that DMAs (virtio-net) takes buffers from the channel
 *   (vj_get_buffer()) to receive into, before the frames arrive, and hands
 *   each filled buffer back with vj_netif_rx(), which publishes the frame to
 *   the channel's ring without a copy if it matches one of the channel's
 *   filters, or passes a copy of it to the normal stack.  Every decision,
 *   and every byte passed to the stack, comes from one read of the buffer
 *   (user space may write it at any time).  Buffers the driver no longer
 *   needs go back with vj_put_buffer().
 * - A driver that receives skbs (veth) offers each one with vj_rx_skb().
 *   Frames that match no filter stay on the driver's normal path untouched;
 *   frames that match are completed (segmented, checksummed, tagged in band)
 *   and copied into a channel buffer, the copy standing for the DMA.
 *
 * The channel is implemented by net/vjchan/ (in Rust); this header only
 * calls through the channel's operations, so drivers need no symbol of it
 * and everything compiles away when CONFIG_VJCHAN is not set.
 *
 * See Documentation/networking/vjchan.rst.
 */
#ifndef _LINUX_VJCHAN_H
#define _LINUX_VJCHAN_H

#include <linux/err.h>
#include <linux/errno.h>
#include <linux/etherdevice.h>
#include <linux/highmem.h>
#include <linux/if_vlan.h>
#include <linux/netdevice.h>
#include <linux/netfilter_netdev.h>
#include <linux/rcupdate.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
#include <linux/unaligned.h>
#include <net/gso.h>
#include <net/netdev_rx_queue.h>

struct page;
struct vj_channel;

/**
 * struct vj_buf - a channel buffer lent to a driver
 * @page: the page the frame goes into (order 0, mapped by user space)
 * @offset: where the frame starts in @page (the headroom is before it)
 * @size: how many bytes the frame may use from @offset
 * @id: the channel's number of the buffer; opaque to the driver
 */
struct vj_buf {
	struct page *page;
	unsigned int offset;
	unsigned int size;
	u32 id;
};

/**
 * struct vj_rx_meta - what a driver knows of a frame it hands to a channel
 * @flags: VJ_RX_META_* bits
 * @rxhash: with VJ_RX_META_RXHASH, the flow hash
 *
 * The channel passes it on to user space in the frame's descriptor.
 */
struct vj_rx_meta {
	u32 flags;
	u32 rxhash;
};

/* The frame's TCP/UDP checksum is known good: verified by the device
 * (CHECKSUM_UNNECESSARY) or computed by the kernel.
 */
#define VJ_RX_META_CSUM_OK	BIT(0)
/* @rxhash holds the flow hash. */
#define VJ_RX_META_RXHASH	BIT(1)

/**
 * enum vj_rx_result - what vj_netif_rx() and vj_rx_skb() did with a frame
 * @VJ_RX_RING: published to the channel's ring, no copy
 * @VJ_RX_STACK: matched no filter: a copy went to the stack
 * @VJ_RX_DROP: dropped (bad length, no memory, policy); counted
 * @VJ_RX_PASS: vj_rx_skb(): not the channel's, the skb is still the
 *	driver's, untouched
 */
enum vj_rx_result {
	VJ_RX_RING,
	VJ_RX_STACK,
	VJ_RX_DROP,
	VJ_RX_PASS,
};

/**
 * enum vj_rx_drop - why the C side of a channel dropped a frame it had taken
 *	(counted)
 * @VJ_RX_DROP_NOMEM: no memory for a copy or a segment
 * @VJ_RX_DROP_LENGTH: does not fit a buffer, or malformed
 * @VJ_RX_DROP_POLICY: the device's netfilter ingress policy
 */
enum vj_rx_drop {
	VJ_RX_DROP_NOMEM,
	VJ_RX_DROP_LENGTH,
	VJ_RX_DROP_POLICY,
};

/* How much of a frame's headers a channel classifies: enough for an
 * Ethernet header, two VLAN tags, an IPv6 header and the ports.
 */
#define VJ_RX_HDR_MAX	128

/**
 * struct vj_channel_ops - the operations of a channel, set by its
 *	implementation
 * @get_buffer: takes a free buffer of the channel; see vj_get_buffer()
 * @netif_rx: takes a filled buffer back; see vj_netif_rx()
 * @put_buffer: takes a buffer back without a frame; see vj_put_buffer()
 * @match: whether the frame whose first @len bytes (kernel memory, at most
 *	VJ_RX_HDR_MAX) are @hdr matches one of the channel's filters
 * @deliver: publishes a frame the kernel wrote into @buf after @match said
 *	it is the channel's and the policy accepted it; no classification
 *	again.  A @len of 0 gives the buffer back, counted as a bad length.
 * @count_drop: counts a frame the C side of the channel dropped, for the
 *	reason @why
 */
struct vj_channel_ops {
	int (*get_buffer)(struct vj_channel *ch, struct vj_buf *buf);
	enum vj_rx_result (*netif_rx)(struct vj_channel *ch,
				      const struct vj_buf *buf,
				      unsigned int len,
				      const struct vj_rx_meta *meta,
				      struct net_device *dev);
	void (*put_buffer)(struct vj_channel *ch, const struct vj_buf *buf);
	bool (*match)(struct vj_channel *ch, const void *hdr,
		      unsigned int len);
	enum vj_rx_result (*deliver)(struct vj_channel *ch,
				     const struct vj_buf *buf,
				     unsigned int len,
				     const struct vj_rx_meta *meta);
	void (*count_drop)(struct vj_channel *ch, enum vj_rx_drop why);
};

/**
 * struct vj_driver_ops - what a driver that supports channels provides
 * @setup: binds channel @ch to receive queue @qid of @dev, or unbinds the
 *	queue's channel if @ch is NULL.  Called under RTNL.  On unbind the
 *	driver gives back every buffer of the channel it still holds
 *	(vj_put_buffer()) and stops using the channel before it returns.
 *
 * @kick: optional; the channel of queue @qid had no free buffer to lend
 *	(its ring was full) and has some again: post them to the device.
 *	Called from process context, without RTNL, possibly while the queue
 *	is being unbound.
 *
 * A driver declares channel support with vj_set_driver_ops() before it
 * registers its device; binding a queue of another device fails with
 * -EOPNOTSUPP.
 */
struct vj_driver_ops {
	int (*setup)(struct net_device *dev, unsigned int qid,
		     struct vj_channel *ch);
	void (*kick)(struct net_device *dev, unsigned int qid);
};

/**
 * struct vj_channel - what a driver sees of a channel
 * @ops: its operations
 * @frame_max: the longest frame a buffer of the channel holds (its ring's
 *	geometry, chosen by user space); set before the driver's setup is
 *	called.  A driver refuses to bind a channel whose buffers cannot hold
 *	its MTU; the channel checks the MTU too, before it binds.
 *
 * A channel stays valid for the driver until the end of the RCU read-side
 * critical section in which vj_rx_channel() returned it.
 */
struct vj_channel {
	const struct vj_channel_ops *ops;
	unsigned int frame_max;
};

#if IS_ENABLED(CONFIG_VJCHAN)

/**
 * vj_set_driver_ops - declare that the receive queues of a device can have
 *	channels
 * @dev: the device, not yet registered
 * @ops: the driver's operations
 */
static inline void vj_set_driver_ops(struct net_device *dev,
				     const struct vj_driver_ops *ops)
{
	unsigned int i;

	for (i = 0; i < dev->num_rx_queues; i++)
		__netif_get_rx_queue(dev, i)->vj_ops = ops;
}

/**
 * vj_rx_channel - the channel bound to a receive queue, if any
 * @dev: the device
 * @qid: the receive queue
 *
 * Context: RCU read-side critical section (NAPI and ndo_start_xmit are).
 * Return: the channel, or NULL if none is bound to queue @qid of @dev.
 */
static inline struct vj_channel *vj_rx_channel(struct net_device *dev,
					       unsigned int qid)
{
	if (unlikely(qid >= dev->real_num_rx_queues))
		return NULL;
	return rcu_dereference(__netif_get_rx_queue(dev, qid)->vj_chan);
}

/**
 * vj_rx_channel_bound_from - whether a channel is bound to a receive queue
 *	of @dev numbered @first or above
 * @dev: the device
 * @first: the first queue to look at
 *
 * For drivers' reconfiguration paths (fewer queues, XDP): a channel keeps
 * its queue and excludes XDP, so they refuse with -EBUSY.
 *
 * Context: RTNL.
 * Return: true if a channel is bound to one of the queues of @dev from
 * @first on, false otherwise.
 */
static inline bool vj_rx_channel_bound_from(struct net_device *dev,
					    unsigned int first)
{
	unsigned int i;

	ASSERT_RTNL();
	for (i = first; i < dev->num_rx_queues; i++)
		if (rtnl_dereference(__netif_get_rx_queue(dev, i)->vj_chan))
			return true;
	return false;
}

/**
 * vj_get_buffer - take a free buffer of a channel to receive into
 * @ch: the channel
 * @buf: filled in with the buffer
 *
 * Context: any; does not sleep.
 * Return: 0, or -ENOBUFS if the channel has no free buffer: its ring is
 * full, and the driver drops the frame (the channel counts it).
 */
static inline int vj_get_buffer(struct vj_channel *ch, struct vj_buf *buf)
{
	return ch->ops->get_buffer(ch, buf);
}

/**
 * vj_netif_rx - hand a filled buffer back to its channel
 * @ch: the channel
 * @buf: a buffer from vj_get_buffer() on @ch
 * @len: the length of the frame in it, from its Ethernet header on
 * @meta: what the device said of the frame (checksum, hash), or NULL
 * @dev: the device that received it
 *
 * The channel owns @buf again whatever the result.
 *
 * Context: any; does not sleep.
 * Return: VJ_RX_RING if the frame was published to the channel's ring
 * without a copy, VJ_RX_STACK if it matched no filter and a copy went to
 * the stack, VJ_RX_DROP if it was dropped (counted).
 */
static inline enum vj_rx_result vj_netif_rx(struct vj_channel *ch,
					    const struct vj_buf *buf,
					    unsigned int len,
					    const struct vj_rx_meta *meta,
					    struct net_device *dev)
{
	return ch->ops->netif_rx(ch, buf, len, meta, dev);
}

/**
 * vj_put_buffer - give back a buffer without a frame in it
 * @ch: the channel
 * @buf: a buffer from vj_get_buffer() on @ch
 *
 * Context: any; does not sleep.
 */
static inline void vj_put_buffer(struct vj_channel *ch,
				 const struct vj_buf *buf)
{
	ch->ops->put_buffer(ch, buf);
}

/*
 * For the channel implementation (net/vjchan) only.
 */

/**
 * vj_rx_channel_attach - bind a channel to a receive queue
 * @dev: the device
 * @qid: the receive queue
 * @ch: the channel
 *
 * Binds @ch to queue @qid of @dev.
 *
 * Context: RTNL.
 * Return: 0, or -EINVAL if there is no such queue, -EOPNOTSUPP if its
 * driver does not support channels, -EBUSY if a channel is bound to it
 * already, -EMSGSIZE if a frame of the device's MTU (with an Ethernet header
 * and a VLAN tag) does not fit the channel's buffers (@ch->frame_max), or
 * the driver's error.
 */
static inline int vj_rx_channel_attach(struct net_device *dev,
				       unsigned int qid, struct vj_channel *ch)
{
	struct netdev_rx_queue *rxq;
	int err;

	ASSERT_RTNL();
	if (qid >= dev->real_num_rx_queues)
		return -EINVAL;
	rxq = __netif_get_rx_queue(dev, qid);
	if (!rxq->vj_ops)
		return -EOPNOTSUPP;
	if (rtnl_dereference(rxq->vj_chan))
		return -EBUSY;
	if (dev->mtu + ETH_HLEN + VLAN_HLEN > ch->frame_max)
		return -EMSGSIZE;
	err = rxq->vj_ops->setup(dev, qid, ch);
	if (err)
		return err;
	rcu_assign_pointer(rxq->vj_chan, ch);
	return 0;
}

/**
 * vj_rx_channel_rtnl - the channel bound to a receive queue, if any
 * @dev: the device
 * @qid: the receive queue
 *
 * Context: RTNL.
 * Return: the channel bound to queue @qid of @dev, or NULL if none is.
 */
static inline struct vj_channel *vj_rx_channel_rtnl(struct net_device *dev,
						    unsigned int qid)
{
	ASSERT_RTNL();
	if (qid >= dev->num_rx_queues)
		return NULL;
	return rtnl_dereference(__netif_get_rx_queue(dev, qid)->vj_chan);
}

/**
 * vj_rx_channel_detach - unbind the channel of a receive queue
 * @dev: the device
 * @qid: the receive queue
 *
 * Unbinds the channel bound to queue @qid of @dev, if any.  The caller waits
 * for an RCU grace period before it frees the channel.
 *
 * Context: RTNL.
 * Return: the channel that was bound, or NULL if none was.
 */
static inline struct vj_channel *vj_rx_channel_detach(struct net_device *dev,
						      unsigned int qid)
{
	struct netdev_rx_queue *rxq;
	struct vj_channel *ch;

	ASSERT_RTNL();
	if (qid >= dev->num_rx_queues)
		return NULL;
	rxq = __netif_get_rx_queue(dev, qid);
	ch = rcu_replace_pointer(rxq->vj_chan, NULL, lockdep_rtnl_is_held());
	if (ch && rxq->vj_ops)
		rxq->vj_ops->setup(dev, qid, NULL);
	return ch;
}

/**
 * vj_rx_channel_kick - ask a driver to refill a queue from its channel
 * @dev: the device
 * @qid: the receive queue
 *
 * Asks the driver of @dev to refill queue @qid from its channel (see
 * &vj_driver_ops.kick).
 *
 * Context: process context.
 */
static inline void vj_rx_channel_kick(struct net_device *dev, unsigned int qid)
{
	const struct vj_driver_ops *ops;

	if (qid >= dev->num_rx_queues)
		return;
	ops = __netif_get_rx_queue(dev, qid)->vj_ops;
	if (ops && ops->kick)
		ops->kick(dev, qid);
}

/**
 * vj_num_rx_queues - how many receive queues of a device can have a channel
 * @dev: the device
 *
 * Return: the number of receive queues of @dev that can have a channel.
 */
static inline unsigned int vj_num_rx_queues(const struct net_device *dev)
{
	return dev->num_rx_queues;
}

/**
 * vj_rx_skb_copy - copy a frame into a new skb, as received on a device
 * @dev: the device
 * @head: the frame's first @hlen bytes: the kernel's snapshot of the headers
 *	a channel classified
 * @hlen: the length of @head
 * @rest: the rest of the frame; may be memory that user space writes
 *	concurrently, read once here
 * @rlen: the length of @rest
 *
 * Return: a new skb holding a copy of an Ethernet frame of @hlen + @rlen
 * bytes, as received on @dev (eth_type_trans() done, an in-band VLAN tag
 * taken out as the stack's receive path does): its first @hlen bytes from
 * @head, the rest from @rest.  ERR_PTR(-EINVAL) if the frame is shorter
 * than an Ethernet header, ERR_PTR(-ENOMEM) without memory.
 */
static inline struct sk_buff *vj_rx_skb_copy(struct net_device *dev,
					     const void *head,
					     unsigned int hlen,
					     const void *rest,
					     unsigned int rlen)
{
	struct sk_buff *skb;

	if (hlen < ETH_HLEN || hlen + rlen < hlen)
		return ERR_PTR(-EINVAL);
	skb = netdev_alloc_skb_ip_align(dev, hlen + rlen);
	if (!skb)
		return ERR_PTR(-ENOMEM);
	skb_put_data(skb, head, hlen);
	if (rlen)
		skb_put_data(skb, rest, rlen);
	skb->protocol = eth_type_trans(skb, dev);
	if (eth_type_vlan(skb->protocol)) {
		skb = skb_vlan_untag(skb);
		if (!skb)
			return ERR_PTR(-ENOMEM);
	}
	skb_reset_network_header(skb);
	skb_reset_mac_len(skb);
	return skb;
}

/**
 * vj_rx_copy_to_stack - pass a copy of a frame to the stack
 * @dev: the device
 * @head: the frame's first @hlen bytes, as for vj_rx_skb_copy()
 * @hlen: the length of @head
 * @rest: the rest of the frame, as for vj_rx_skb_copy()
 * @rlen: the length of @rest
 *
 * Passes a copy of a frame (see vj_rx_skb_copy()) to the stack as received
 * on @dev.
 *
 * Return: 0, or the error of vj_rx_skb_copy(): -EINVAL if the frame is
 * shorter than an Ethernet header, -ENOMEM without memory.
 */
static inline int vj_rx_copy_to_stack(struct net_device *dev,
				      const void *head, unsigned int hlen,
				      const void *rest, unsigned int rlen)
{
	struct sk_buff *skb = vj_rx_skb_copy(dev, head, hlen, rest, rlen);

	if (IS_ERR(skb))
		return PTR_ERR(skb);
	netif_rx(skb);
	return 0;
}

/**
 * vj_rx_nf_ingress_active - whether a device has netfilter ingress hooks
 * @dev: the device
 *
 * Tests whether @dev has netfilter ingress hooks (nftables netdev or inet
 * ingress chains) that a frame bound for a channel must pass: a static key
 * and a pointer test, so channels pay nothing for policy nobody set.
 *
 * Return: true if @dev has such hooks.
 */
static inline bool vj_rx_nf_ingress_active(const struct net_device *dev)
{
	return nf_hook_ingress_dev_active(dev);
}

/**
 * vj_rx_nf_ingress_skb - run a device's netfilter ingress hooks on an skb
 * @skb: the frame, at its network header with its VLAN tag out of band, as
 *	the stack's receive path hands it to the hooks
 *
 * Runs the netfilter ingress hooks of the device of @skb (@skb->dev) on
 * @skb.
 *
 * Context: the caller has bottom halves disabled.
 * Return: whether the policy accepts @skb: on false the skb is gone
 * (dropped, or stolen by a hook).
 */
static inline bool vj_rx_nf_ingress_skb(struct sk_buff *skb)
{
	int ret;

	rcu_read_lock();
	ret = nf_hook_ingress(skb);
	rcu_read_unlock();
	/* < 0: dropped and freed, or stolen; >= 0: accepted, still ours. */
	return ret >= 0;
}

/**
 * vj_rx_nf_ingress - run the netfilter ingress hooks on a copy of a frame
 * @dev: the device
 * @head: the frame's first @hlen bytes, as for vj_rx_skb_copy()
 * @hlen: the length of @head
 * @rest: the rest of the frame, as for vj_rx_skb_copy()
 * @rlen: the length of @rest
 *
 * Runs the netfilter ingress hooks of @dev on a copy of a frame (see
 * vj_rx_skb_copy()) that a channel of @dev is about to deliver.
 *
 * Context: the caller has bottom halves disabled (see
 * vj_rx_nf_ingress_skb()).
 * Return: 1 if the frame may be delivered, 0 if the policy dropped it,
 * -EINVAL if it is shorter than an Ethernet header and -ENOMEM if no copy
 * could be made.
 */
static inline int vj_rx_nf_ingress(struct net_device *dev,
				   const void *head, unsigned int hlen,
				   const void *rest, unsigned int rlen)
{
	struct sk_buff *skb = vj_rx_skb_copy(dev, head, hlen, rest, rlen);

	if (IS_ERR(skb))
		return PTR_ERR(skb);
	if (!vj_rx_nf_ingress_skb(skb))
		return 0;
	consume_skb(skb);
	return 1;
}

/**
 * vj_rx_skb_headers - the first bytes of an skb's frame, as on the wire
 * @skb: the frame
 * @hdr: filled in with the bytes; room for VJ_RX_HDR_MAX of them
 *
 * Copies the first bytes of @skb's frame into @hdr, as they are (or were)
 * on the wire: an out-of-band VLAN tag goes back in after the MAC
 * addresses.
 *
 * Return: the number of bytes in @hdr (at most VJ_RX_HDR_MAX), 0 if the
 * frame is shorter than an Ethernet header.
 */
static inline unsigned int vj_rx_skb_headers(const struct sk_buff *skb,
					     u8 *hdr)
{
	unsigned int n, off = 0;

	if (skb->len < ETH_HLEN)
		return 0;
	if (skb_vlan_tag_present(skb)) {
		if (skb_copy_bits(skb, 0, hdr, 2 * ETH_ALEN))
			return 0;
		put_unaligned(skb->vlan_proto, (__be16 *)(hdr + 2 * ETH_ALEN));
		put_unaligned_be16(skb_vlan_tag_get(skb), hdr + 2 * ETH_ALEN + 2);
		off = VLAN_HLEN;
	}
	n = min_t(unsigned int, skb->len, VJ_RX_HDR_MAX - off);
	if (off) {
		if (skb_copy_bits(skb, 2 * ETH_ALEN, hdr + 2 * ETH_ALEN + off,
				  n - 2 * ETH_ALEN))
			return 0;
	} else if (skb_copy_bits(skb, 0, hdr, n)) {
		return 0;
	}
	return n + off;
}

/**
 * __vj_rx_skb_one - deliver one frame that a channel took
 * @ch: the channel
 * @skb: the frame (not GSO), at its Ethernet header
 * @dev: the receiving device
 *
 * Delivers one frame (not GSO) that the channel took: the checksum is
 * finished, the netfilter ingress policy of @dev applied, the VLAN tag put
 * back in the frame, and the frame copied into a buffer of the channel
 * (for a device without DMA, the copy stands for it).  Consumes @skb.
 *
 * Context: as for vj_rx_skb().
 * Return: VJ_RX_RING if the frame was published to the ring, VJ_RX_DROP if
 * it was dropped (counted).
 */
static inline enum vj_rx_result __vj_rx_skb_one(struct vj_channel *ch,
						struct sk_buff *skb,
						struct net_device *dev)
{
	enum vj_rx_drop why = VJ_RX_DROP_NOMEM;
	struct vj_rx_meta meta = {};
	enum vj_rx_result ret;
	struct vj_buf buf;
	unsigned int len;
	void *va;
	int err;

	if (skb->ip_summed == CHECKSUM_PARTIAL) {
		/* An SCTP CRC32c (csum_not_inet) is finished as a CRC, not as
		 * an Internet checksum; only TCP/UDP get VJ_RX_META_CSUM_OK.
		 */
		bool inet = !skb_csum_is_sctp(skb);

		err = skb_csum_hwoffload_help(skb, 0);
		if (err) {
			why = err == -ENOMEM ? VJ_RX_DROP_NOMEM :
					       VJ_RX_DROP_LENGTH;
			goto drop;
		}
		if (inet)
			meta.flags |= VJ_RX_META_CSUM_OK;
	} else if (skb->ip_summed == CHECKSUM_UNNECESSARY) {
		meta.flags |= VJ_RX_META_CSUM_OK;
	}
	if (skb->l4_hash) {
		meta.flags |= VJ_RX_META_RXHASH;
		meta.rxhash = skb->hash;
	}
	if (vj_rx_nf_ingress_active(dev)) {
		/* The hooks see the frame as the stack's receive path would:
		 * at its network header, the VLAN tag out of band.
		 */
		skb->protocol = eth_type_trans(skb, dev);
		if (eth_type_vlan(skb->protocol)) {
			skb = skb_vlan_untag(skb);
			if (!skb)
				goto dropped;
		}
		skb_reset_network_header(skb);
		skb_reset_mac_len(skb);
		if (!vj_rx_nf_ingress_skb(skb)) {
			ch->ops->count_drop(ch, VJ_RX_DROP_POLICY);
			return VJ_RX_DROP;
		}
		__skb_push(skb, skb->data - skb_mac_header(skb));
	}
	if (skb_vlan_tag_present(skb)) {
		skb = __vlan_hwaccel_push_inside(skb);
		if (!skb)
			goto dropped;
	}
	len = skb->len;
	if (ch->ops->get_buffer(ch, &buf)) {
		/* The ring is full; the channel counted it. */
		kfree_skb(skb);
		return VJ_RX_DROP;
	}
	if (len > buf.size) {
		len = 0;
	} else {
		va = kmap_local_page(buf.page);
		if (skb_copy_bits(skb, 0, va + buf.offset, len))
			len = 0;
		kunmap_local(va);
	}
	/* A length of 0 gives the buffer back, counted as a bad length. */
	ret = ch->ops->deliver(ch, &buf, len, &meta);
	if (ret == VJ_RX_RING)
		consume_skb(skb);
	else
		kfree_skb(skb);
	return ret;

drop:
	kfree_skb(skb);
dropped:
	ch->ops->count_drop(ch, why);
	return VJ_RX_DROP;
}

/**
 * vj_rx_skb - offer a received skb to a channel
 * @ch: the channel bound to the queue the skb arrived on
 * @skb: the frame, at its Ethernet header, in kernel memory
 * @dev: the receiving device
 *
 * For drivers that receive into skbs (no DMA into channel buffers).  The
 * channel classifies the frame first: a frame that matches none of its
 * filters is left alone (VJ_RX_PASS) and the driver goes on with its normal
 * path, with every piece of the skb's metadata as it was.  A frame that
 * matches is taken: GSO frames are segmented, checksums finished, the device's
 * netfilter ingress policy applied and the VLAN tag put back in the frame,
 * and each frame is published to the ring (VJ_RX_RING) or dropped and
 * counted (VJ_RX_DROP).  Either way the skb is then consumed.
 *
 * Context: softirq or with bottom halves disabled, in an RCU read-side
 * critical section.
 * Return: VJ_RX_PASS if the frame matched no filter (the skb is still the
 * driver's); VJ_RX_RING if it, or for a GSO frame at least one of its
 * segments, was published to the ring; VJ_RX_DROP if it was dropped
 * (counted).
 */
static inline enum vj_rx_result vj_rx_skb(struct vj_channel *ch,
					  struct sk_buff *skb,
					  struct net_device *dev)
{
	enum vj_rx_result ret = VJ_RX_DROP;
	struct sk_buff *segs, *next;
	u8 hdr[VJ_RX_HDR_MAX];
	unsigned int n;

	n = vj_rx_skb_headers(skb, hdr);
	if (!n || !ch->ops->match(ch, hdr, n))
		return VJ_RX_PASS;
	if (!skb_is_gso(skb))
		return __vj_rx_skb_one(ch, skb, dev);
	segs = skb_gso_segment(skb, 0);
	if (IS_ERR_OR_NULL(segs)) {
		ch->ops->count_drop(ch, PTR_ERR(segs) == -ENOMEM ?
				    VJ_RX_DROP_NOMEM : VJ_RX_DROP_LENGTH);
		kfree_skb(skb);
		return VJ_RX_DROP;
	}
	consume_skb(skb);
	skb_list_walk_safe(segs, skb, next) {
		skb_mark_not_on_list(skb);
		if (__vj_rx_skb_one(ch, skb, dev) == VJ_RX_RING)
			ret = VJ_RX_RING;
	}
	return ret;
}

#else /* !CONFIG_VJCHAN */

static inline void vj_set_driver_ops(struct net_device *dev,
				     const struct vj_driver_ops *ops)
{
}

static inline struct vj_channel *vj_rx_channel(struct net_device *dev,
					       unsigned int qid)
{
	return NULL;
}

static inline bool vj_rx_channel_bound_from(struct net_device *dev,
					    unsigned int first)
{
	return false;
}

static inline int vj_get_buffer(struct vj_channel *ch, struct vj_buf *buf)
{
	return -EOPNOTSUPP;
}

static inline enum vj_rx_result vj_netif_rx(struct vj_channel *ch,
					    const struct vj_buf *buf,
					    unsigned int len,
					    const struct vj_rx_meta *meta,
					    struct net_device *dev)
{
	return VJ_RX_DROP;
}

static inline void vj_put_buffer(struct vj_channel *ch,
				 const struct vj_buf *buf)
{
}

static inline enum vj_rx_result vj_rx_skb(struct vj_channel *ch,
					  struct sk_buff *skb,
					  struct net_device *dev)
{
	return VJ_RX_PASS;
}

#endif /* CONFIG_VJCHAN */

#endif /* _LINUX_VJCHAN_H */
