"""PyIceberg against `lakehouse serve` on moto S3 with IAM authentication enforced, where the client
has NO S3 keys of its own: it must read and write with the short-lived credentials the catalog vends
(X-Iceberg-Access-Delegation: vended-credentials). Also the moto IAM set-up the test needs.

  setup <moto>                      user + keys for the service, the role to vend; prints keys as JSON
  read <uri> <credential> <table>   load (with the header) and scan; prints rows and what was vended
  nokeys <uri> <credential> <table> <moto>  header emptied, moto endpoint but no keys: the scan must be refused
  append <uri> <credential> <table> append two rows with the vended credentials
"""
import json
import os
import sys

# No S3 keys from anywhere but the catalog: no env keys, no files, no instance metadata.
for k in list(os.environ):
    if k.startswith("AWS_"):
        del os.environ[k]
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["AWS_CONFIG_FILE"] = "/dev/null"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"

ROLE = "lakehouse-vend"


def setup(moto: str) -> None:
    import boto3

    kw = dict(endpoint_url=moto, region_name="us-east-1", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
    iam = boto3.client("iam", **kw)
    # These five calls are moto's unauthenticated allowance (INITIAL_NO_AUTH_ACTION_COUNT=5).
    iam.create_user(UserName="lakehouse-svc")
    key = iam.create_access_key(UserName="lakehouse-svc")["AccessKey"]
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole"], "Resource": "*"}]}
    iam.put_user_policy(UserName="lakehouse-svc", PolicyName="svc", PolicyDocument=json.dumps(allow_all))
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    s3_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=ROLE, PolicyName="data", PolicyDocument=json.dumps(s3_only))
    # From here on every request must be signed by a known key.
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    s3.create_bucket(Bucket="vend-bucket")
    try:
        boto3.client("s3", **kw).list_objects_v2(Bucket="vend-bucket")
        raise SystemExit("moto did not enforce authentication")
    except Exception as e:  # noqa: BLE001 - any refusal proves enforcement
        if "enforce" in str(e):
            raise
    print(json.dumps({"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"], "roleArn": role["Arn"]}))


def catalog(uri: str, credential: str, vended: bool, extra: dict | None = None):
    from pyiceberg.catalog import load_catalog

    # PyIceberg sends `X-Iceberg-Access-Delegation: vended-credentials` unless told otherwise: the
    # key-less case overrides it with an empty value.
    props = {"type": "rest", "uri": uri, "credential": credential, "header.X-Iceberg-Access-Delegation": "vended-credentials" if vended else ""}
    return load_catalog("lh", **props, **(extra or {}))


def rows_of(table) -> list:
    arrow = table.scan().to_arrow().sort_by("id")
    return [[r["id"], r["name"]] for r in arrow.to_pylist()]


def main() -> None:
    cmd = sys.argv[1]
    if cmd == "setup":
        return setup(sys.argv[2])
    uri, credential, name = sys.argv[2:5]
    if cmd == "read":
        t = catalog(uri, credential, True).load_table(name)
        p = t.io.properties
        print(json.dumps({
            "rows": rows_of(t),
            "keyId": p.get("s3.access-key-id", ""),
            "hasToken": bool(p.get("s3.session-token")),
            "expiresAtMs": int(p.get("s3.session-token-expires-at-ms", "0")),
            "endpoint": p.get("s3.endpoint"),
        }))
    elif cmd == "nokeys":
        # Everything but keys: moto's endpoint (so nothing goes off this machine), path-style, region.
        moto = sys.argv[5]
        t = catalog(uri, credential, False).load_table(name)
        given = sorted(k for k in t.io.properties if k.startswith("s3.") or k.startswith("client."))
        t = catalog(uri, credential, False, {"s3.endpoint": moto, "s3.region": "us-east-1"}).load_table(name)
        try:
            rows = rows_of(t)
            print(json.dumps({"error": None, "rows": rows, "given": given, "io": type(t.io).__name__}))
        except Exception as e:  # noqa: BLE001 - the refusal is the expected outcome
            print(json.dumps({"error": f"{type(e).__name__}: {e}"[:500], "given": given}))
    elif cmd == "append":
        import pyarrow as pa

        t = catalog(uri, credential, True).load_table(name)
        t.append(pa.table({"id": pa.array([100, 101], pa.int32()), "name": pa.array(["py-a", "py-b"])}))
        print(json.dumps({"rows": rows_of(t.refresh())}))


if __name__ == "__main__":
    main()
