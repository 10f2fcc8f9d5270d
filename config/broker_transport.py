"""kombu's Redis transport, made to survive a broker restart while a task runs.

Celery 5.7's consumer handles a lost broker connection by calling `collect()` on it,
which detaches the transport from its kombu Connection (`transport.client = None`), and
then `close()` on that same connection. The second close reaches the channel's QoS,
which tries to put the running task's unacknowledged message back on the broker; later,
when that task ends, its acknowledgement goes to the same closed channel (whose
`connection` is None by then). Both build a Redis client from what is gone, and the
AttributeError that follows ("'NoneType' object has no attribute 'hostname'", or
"... 'client'") is not a connection error, so it escapes the consumer and the worker
process exits. With `acks_late` every running task holds such a message; an idle worker
has none, which is why it reconnected.

Here a channel whose connection is gone raises a connection error instead, which kombu
and Celery handle: the restore is skipped and the late ack is logged as lost. The message
itself stays in Redis's unacked set (kombu's visibility timeout puts it back; the task's
job row is no longer queued then, so learners.tasks does not run it twice).
"""

from kombu.transport import redis
from redis.exceptions import ConnectionError as RedisConnectionError


class BrokerConnectionGone(RedisConnectionError):
    pass


class Channel(redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection is None or self.connection.client is None:
            raise BrokerConnectionGone("this channel's broker connection was lost and closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(redis.Transport):
    Channel = Channel
