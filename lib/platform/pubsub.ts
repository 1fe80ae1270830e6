import type { Redis } from './redis.ts';

export type ChannelListener = (message: string) => void;

/**
 * One Redis subscriber connection per process, fanned out in memory: however many requests wait
 * for an outcome or streams are open, Redis sees one subscription per channel.
 */
export class Subscriptions {
  private readonly listeners = new Map<string, Set<ChannelListener>>();
  private readonly subscribed = new Map<string, Promise<unknown>>();

  constructor(private readonly subscriber: Redis) {
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of this.listeners.get(channel) ?? []) listener(message);
    });
  }

  /** Resolves once Redis confirms the subscription; returns the function that removes the listener. */
  async listen(channel: string, listener: ChannelListener): Promise<() => void> {
    let channelListeners = this.listeners.get(channel);
    if (!channelListeners) {
      channelListeners = new Set();
      this.listeners.set(channel, channelListeners);
    }
    channelListeners.add(listener);
    const remove = () => {
      channelListeners.delete(listener);
    };
    try {
      await this.subscription(channel);
    } catch (error) {
      remove();
      throw error;
    }
    return remove;
  }

  private subscription(channel: string): Promise<unknown> {
    let pending = this.subscribed.get(channel);
    if (!pending) {
      // ioredis re-subscribes by itself after a reconnect.
      pending = this.subscriber.subscribe(channel).catch((error: unknown) => {
        this.subscribed.delete(channel);
        throw error;
      });
      this.subscribed.set(channel, pending);
    }
    return pending;
  }
}
