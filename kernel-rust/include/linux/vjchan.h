/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Network channels (PF_VJCHAN): the interface for network drivers.
 *
 * A channel is bound to one receive queue of a device.  A driver that
 * supports channels asks, for each receive queue, whether a channel is bound
 * to it (vj_rx_channel()).  If so, it takes buffers from the channel
 * (vj_get_buffer()) to receive into, before the frames arrive, and hands
 * each filled buffer back with vj_netif_rx(), which either publishes the
 * frame to the channel's ring without a copy or passes a copy of it to the
 * normal stack.  Buffers the driver no longer needs go back with
 * vj_put_buffer().
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
#include <linux/netdevice.h>
#include <linux/netfilter_netdev.h>
#include <linux/rcupdate.h>
#include <linux/rtnetlink.h>
#include <linux/skbuff.h>
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

/* What vj_netif_rx() did with a frame. */
enum vj_rx_result {
	VJ_RX_RING,	/* published to the channel's ring, no copy */
	VJ_RX_STACK,	/* matched no filter: a copy went to the stack */
	VJ_RX_DROP,	/* dropped (bad length, no memory); counted */
};

/* The operations of a channel, set by its implementation. */
struct vj_channel_ops {
	int (*get_buffer)(struct vj_channel *ch, struct vj_buf *buf);
	enum vj_rx_result (*netif_rx)(struct vj_channel *ch,
				      const struct vj_buf *buf,
				      unsigned int len,
				      struct net_device *dev);
	void (*put_buffer)(struct vj_channel *ch, const struct vj_buf *buf);
};

/**
 * struct vj_driver_ops - what a driver that supports channels provides
 * @setup: binds channel @ch to receive queue @qid of @dev, or unbinds the
 *	queue's channel if @ch is NULL.  Called under RTNL.  On unbind the
 *	driver gives back every buffer of the channel it still holds
 *	(vj_put_buffer()) and stops using the channel before it returns.
 *
 * A driver declares channel support with vj_set_driver_ops() before it
 * registers its device; binding a queue of another device fails with
 * -EOPNOTSUPP.
 */
struct vj_driver_ops {
	int (*setup)(struct net_device *dev, unsigned int qid,
		     struct vj_channel *ch);
};

/**
 * struct vj_channel - what a driver sees of a channel
 * @ops: its operations
 *
 * A channel stays valid for the driver until the end of the RCU read-side
 * critical section in which vj_rx_channel() returned it.
 */
struct vj_channel {
	const struct vj_channel_ops *ops;
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
 * @dev: the device that received it
 *
 * The channel owns @buf again whatever the result.
 *
 * Context: any; does not sleep.
 */
static inline enum vj_rx_result vj_netif_rx(struct vj_channel *ch,
					    const struct vj_buf *buf,
					    unsigned int len,
					    struct net_device *dev)
{
	return ch->ops->netif_rx(ch, buf, len, dev);
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

/* Binds @ch to queue @qid of @dev: -EINVAL if there is no such queue,
 * -EOPNOTSUPP if its driver does not support channels, -EBUSY if a channel
 * is bound to it already, or the driver's error.
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
	err = rxq->vj_ops->setup(dev, qid, ch);
	if (err)
		return err;
	rcu_assign_pointer(rxq->vj_chan, ch);
	return 0;
}

/* The channel bound to queue @qid of @dev, if any. */
static inline struct vj_channel *vj_rx_channel_rtnl(struct net_device *dev,
						    unsigned int qid)
{
	ASSERT_RTNL();
	if (qid >= dev->num_rx_queues)
		return NULL;
	return rtnl_dereference(__netif_get_rx_queue(dev, qid)->vj_chan);
}

/* Unbinds and returns the channel bound to queue @qid of @dev, if any.  The
 * caller waits for an RCU grace period before it frees the channel.
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

/* The number of receive queues of @dev that can have a channel. */
static inline unsigned int vj_num_rx_queues(const struct net_device *dev)
{
	return dev->num_rx_queues;
}

/* A new skb holding a copy of the @len-byte Ethernet frame at @data, as
 * received on @dev (eth_type_trans() done).  @data may be memory that user
 * space writes concurrently: the skb gets a snapshot.  ERR_PTR(-EINVAL) if
 * the frame is shorter than an Ethernet header, ERR_PTR(-ENOMEM) without
 * memory.
 */
static inline struct sk_buff *vj_rx_skb_copy(struct net_device *dev,
					     const void *data, unsigned int len)
{
	struct sk_buff *skb;

	if (len < ETH_HLEN)
		return ERR_PTR(-EINVAL);
	skb = netdev_alloc_skb_ip_align(dev, len);
	if (!skb)
		return ERR_PTR(-ENOMEM);
	skb_put_data(skb, data, len);
	skb->protocol = eth_type_trans(skb, dev);
	return skb;
}

/* Passes a copy of the @len-byte Ethernet frame at @data to the stack as
 * received on @dev (see vj_rx_skb_copy()).
 */
static inline int vj_rx_copy_to_stack(struct net_device *dev,
				      const void *data, unsigned int len)
{
	struct sk_buff *skb = vj_rx_skb_copy(dev, data, len);

	if (IS_ERR(skb))
		return PTR_ERR(skb);
	netif_rx(skb);
	return 0;
}

/* Whether @dev has netfilter ingress hooks (nftables netdev or inet ingress
 * chains) that a frame bound for a channel must pass: a static key and a
 * pointer test, so channels pay nothing for policy nobody set.
 */
static inline bool vj_rx_nf_ingress_active(const struct net_device *dev)
{
	return nf_hook_ingress_dev_active(dev);
}

/* Runs the netfilter ingress hooks of @dev on a copy of the @len-byte
 * Ethernet frame at @data, which a channel of @dev is about to deliver.  The
 * hooks see the frame as the stack would have, with the Ethernet header
 * pulled; the caller, a driver's receive path, has bottom halves disabled.
 * @data may be memory that user space writes concurrently: the hooks see a
 * snapshot.
 *
 * Returns 1 if the frame may be delivered, 0 if the policy dropped it (or
 * took it: a stolen copy is the hook's), -EINVAL if it is shorter than an
 * Ethernet header and -ENOMEM if no copy could be made.
 */
static inline int vj_rx_nf_ingress(struct net_device *dev, const void *data,
				   unsigned int len)
{
	struct sk_buff *skb = vj_rx_skb_copy(dev, data, len);
	int ret;

	if (IS_ERR(skb))
		return PTR_ERR(skb);
	skb_reset_network_header(skb);
	skb_reset_transport_header(skb);
	skb_reset_mac_len(skb);
	rcu_read_lock();
	ret = nf_hook_ingress(skb);
	rcu_read_unlock();
	/* < 0: dropped and freed, or stolen; >= 0: accepted, still ours. */
	if (ret < 0)
		return 0;
	consume_skb(skb);
	return 1;
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

static inline int vj_get_buffer(struct vj_channel *ch, struct vj_buf *buf)
{
	return -EOPNOTSUPP;
}

static inline enum vj_rx_result vj_netif_rx(struct vj_channel *ch,
					    const struct vj_buf *buf,
					    unsigned int len,
					    struct net_device *dev)
{
	return VJ_RX_DROP;
}

static inline void vj_put_buffer(struct vj_channel *ch,
				 const struct vj_buf *buf)
{
}

#endif /* CONFIG_VJCHAN */

#endif /* _LINUX_VJCHAN_H */
