// SPDX-License-Identifier: GPL-2.0

#include <linux/netdevice.h>
#include <linux/vjchan.h>

#if IS_ENABLED(CONFIG_VJCHAN)

__rust_helper int rust_helper_vj_rx_channel_attach(struct net_device *dev,
						   unsigned int qid,
						   struct vj_channel *ch)
{
	return vj_rx_channel_attach(dev, qid, ch);
}

__rust_helper struct vj_channel *
rust_helper_vj_rx_channel_rtnl(struct net_device *dev, unsigned int qid)
{
	return vj_rx_channel_rtnl(dev, qid);
}

__rust_helper struct vj_channel *
rust_helper_vj_rx_channel_detach(struct net_device *dev, unsigned int qid)
{
	return vj_rx_channel_detach(dev, qid);
}

__rust_helper unsigned int
rust_helper_vj_num_rx_queues(const struct net_device *dev)
{
	return vj_num_rx_queues(dev);
}

__rust_helper int rust_helper_vj_rx_copy_to_stack(struct net_device *dev,
						  const void *head,
						  unsigned int hlen,
						  const void *rest,
						  unsigned int rlen)
{
	return vj_rx_copy_to_stack(dev, head, hlen, rest, rlen);
}

__rust_helper void rust_helper_vj_rx_channel_kick(struct net_device *dev,
						  unsigned int qid)
{
	vj_rx_channel_kick(dev, qid);
}

__rust_helper bool
rust_helper_vj_rx_nf_ingress_active(const struct net_device *dev)
{
	return vj_rx_nf_ingress_active(dev);
}

__rust_helper int rust_helper_vj_rx_nf_ingress(struct net_device *dev,
					       const void *head,
					       unsigned int hlen,
					       const void *rest,
					       unsigned int rlen)
{
	return vj_rx_nf_ingress(dev, head, hlen, rest, rlen);
}

#endif
