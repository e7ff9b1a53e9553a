"""Notifications: rules route alarm transitions to channels (webhook, WeCom, DingTalk robots).

Nothing here runs in the pipeline's path: transitions are routed when they are stored (the
outbox rows are written in the same transaction), and one task per channel sends them,
gathered into digests, within the channel's rate, retrying until the receiver takes them.
"""
