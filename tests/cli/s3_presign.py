#!/usr/bin/python3
# A presigned S3 URL (AWS Signature Version 4, query-string authentication,
# as AWS's "Authenticating Requests: Using Query Parameters" describes it):
# the kind of URL a customer or provider hands cvm run for a volume (GET)
# or the result (PUT). s3rver's default credentials.
# usage: s3_presign.py METHOD HOST:PORT /BUCKET/KEY [EXPIRES]
import datetime
import hashlib
import hmac
import sys
import urllib.parse


def presign(method, host, path, expires, key="S3RVER", secret="S3RVER", region="us-east-1"):
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = "%s/%s/s3/aws4_request" % (date, region)
    q = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": key + "/" + scope,
         "X-Amz-Date": amzdate, "X-Amz-Expires": str(expires), "X-Amz-SignedHeaders": "host"}
    quote = lambda v: urllib.parse.quote(v, safe="-_.~")
    cq = "&".join("%s=%s" % (quote(k), quote(v)) for k, v in sorted(q.items()))
    creq = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), cq, "host:%s\n" % host, "host",
                      "UNSIGNED-PAYLOAD"])
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return "http://%s%s?%s&X-Amz-Signature=%s" % (host, path, cq, sig)


print(presign(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 600))
