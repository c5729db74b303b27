"""Conversation memory offline: moto's DynamoDB server on 127.0.0.1, with the table Terraform creates.

Dev tooling only; never deployed. The handler reaches it through ``AWS_ENDPOINT_URL_DYNAMODB``.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
import warnings
from typing import Any

import boto3

TABLE = "petclinic-genai-local-conversations"
LIMITS_TABLE = "petclinic-genai-local-limits"
# The key schema of aws_dynamodb_table.conversations in main.tf.
KEY_SCHEMA = [{"AttributeName": "conversation_id", "KeyType": "HASH"}, {"AttributeName": "item", "KeyType": "RANGE"}]
ATTRIBUTES = [{"AttributeName": "conversation_id", "AttributeType": "S"},
              {"AttributeName": "item", "AttributeType": "S"}]


def create_table(dynamodb: Any, name: str = TABLE) -> str:
    """The conversation table as Terraform declares it: on-demand, TTL on expires_at."""
    dynamodb.create_table(TableName=name, KeySchema=KEY_SCHEMA, AttributeDefinitions=ATTRIBUTES,
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.update_time_to_live(TableName=name,
                                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    return name


def create_limits_table(dynamodb: Any, name: str = LIMITS_TABLE) -> str:
    """The limits table as Terraform declares it (aws_dynamodb_table.limits): key pk, TTL on expires_at."""
    dynamodb.create_table(TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    dynamodb.update_time_to_live(TableName=name,
                                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
    return name


def serve(region: str) -> tuple[Any, str]:
    """Start moto's server (DynamoDB only is used) and create both tables; returns (server, url)."""
    with warnings.catch_warnings():  # moto asks for moto[server]; DynamoDB needs only flask, installed
        warnings.simplefilter("ignore")
        from moto.server import ThreadedMotoServer
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # DynamoDB applies each request to an item atomically (a conditional UpdateItem reads, checks and
    # writes as one); moto does not lock, so concurrent callers could race it. One request at a time.
    wsgi, lock = server._server.app, threading.Lock()

    def atomic(environ: Any, start_response: Any) -> Any:
        with lock:
            return list(wsgi(environ, start_response))

    server._server.app = atomic
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its state per process: start every server empty (the table is created below).
    urllib.request.urlopen(urllib.request.Request(url + "/moto-api/reset", method="POST"), timeout=10).close()
    tables = boto3.client("dynamodb", endpoint_url=url, region_name=region,
                          aws_access_key_id="local", aws_secret_access_key="local")
    create_table(tables)
    create_limits_table(tables)
    return server, url
