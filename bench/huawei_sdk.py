"""List every backup of one Huawei account through the official Python SDK
(huaweicloudsdkcbr, CbrClient.list_backups with AK/SK), paging with offset/limit as its
users do. Used by bench/run.py as the peer client; prints the row count.

    huawei_sdk.py ENDPOINT AK SK PROJECT_ID LIMIT [CA_FILE]

Over https the SDK verifies the server's certificate as it always does; CA_FILE (the TLS
emulator's throwaway CA) is what it trusts. Verification is never turned off."""

import sys

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcbr.v1 import CbrClient, ListBackupsRequest


def main():
    endpoint, ak, sk, project_id, limit = sys.argv[1:6]
    ca_file = sys.argv[6] if len(sys.argv) > 6 else None
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = False
    if ca_file:
        config.ssl_ca_cert = ca_file
    builder = CbrClient.new_builder().with_credentials(BasicCredentials(ak, sk, project_id))
    builder = builder.with_http_config(config)
    builder = builder.with_endpoints([endpoint]) if hasattr(builder, "with_endpoints") else builder.with_endpoint(endpoint)
    client = builder.build()
    offset, total = 0, 0
    while True:
        resp = client.list_backups(ListBackupsRequest(limit=int(limit), offset=offset))
        n = len(resp.backups or [])
        if n == 0:
            break
        total += n
        offset += n
    print(total)


if __name__ == "__main__":
    main()
