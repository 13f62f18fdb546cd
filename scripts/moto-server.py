"""moto's server, with DynamoDB requests handled one at a time.

DynamoDB applies a conditional write atomically: of two `PutItem`s racing on one key with
`attribute_not_exists(pk)`, exactly one succeeds. moto checks the condition and then writes, in
two steps on a threaded server, so two requests arriving together can both pass. The alert state
store relies on DynamoDB's guarantee, and its tests race two invocations on purpose; this wrapper
gives moto that guarantee by serialising DynamoDB requests (other services stay concurrent, so an
SQS long poll never blocks the rest). Arguments are moto_server's own (-H HOST -p PORT).
"""

import threading

import moto.server

_dispatcher = moto.server.DomainDispatcherApplication
_dynamodb = threading.Lock()


class SerialDynamoDB(_dispatcher):
    """Dispatches like moto, but one DynamoDB request at a time (response body included)."""

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with _dynamodb:
                return list(super().__call__(environ, start_response))
        return super().__call__(environ, start_response)


moto.server.DomainDispatcherApplication = SerialDynamoDB

if __name__ == "__main__":
    moto.server.main()
