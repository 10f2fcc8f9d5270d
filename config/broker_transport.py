"""kombu's Redis transport, made to survive a broker restart while a task runs.

Celery 5.7's consumer handles a lost broker connection by calling `collect()` on it,
which detaches the transport from its kombu Connection (`transport.client = None`), and
then `close()` on that same connection. The second close reaches the channel's QoS,
which tries to put the running task's unacknowledged message back on the broker: it
builds a Redis client from `transport.client`, now None, and the AttributeError that
follows ("'NoneType' object has no attribute 'hostname'") is not a connection error, so
it escapes the consumer and the worker process exits. With `acks_late` every running
task is such a message; an idle worker has none, which is why it reconnected.

The restore has nothing to talk to at that point anyway. The message stays in Redis's
unacked set (where kombu's visibility timeout puts it back), and the task keeps running
in its pool process, whose job row records how it ends.
"""

import logging

from kombu.transport import redis

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def restore_unacked(self, client=None) -> None:
        if client is None and self.channel.connection.client is None:
            logger.warning(
                "The broker connection is gone; %d unacknowledged message(s) stay on the broker.",
                len(self._delivered),
            )
            return
        super().restore_unacked(client)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel
