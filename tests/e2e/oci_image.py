#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Container images made at test time, without a registry, for cvm pack --oci.

  oci_image.py busybox OUT [--docker]   Debian's busybox-static, its applets linked
  oci_image.py python OUT [--docker]    Debian's python3.11-minimal and what it loads
  oci_image.py spec SPEC.json OUT [--docker]
                                        layers and config as SPEC says (unit tests)

OUT is an OCI image layout directory (image-spec's image-layout.md), or with
--docker the tarball `docker save` writes (manifest.json, the config, one
layer.tar per layer). Every tar is deterministic: sorted entries, fixed
times, the owners given.

A SPEC is {"config": {...OCI config...}, "layers": [[ENTRY, ...], ...],
"gzip": [layer indexes to compress], "platforms": [["linux","amd64"], ...]}, an
ENTRY {"path", "type": file|dir|symlink|hardlink|char|fifo, "data", "from"
(a host file), "mode", "uid", "gid", "target"}.
"""
import gzip, hashlib, io, json, os, subprocess, sys, tarfile

EPOCH = 1700000000


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in sorted(entries, key=lambda e: e["path"]):
            ti = tarfile.TarInfo(e["path"])
            ti.mtime = EPOCH
            ti.uid, ti.gid = e.get("uid", 0), e.get("gid", 0)
            typ = e.get("type", "file")
            data = None
            if typ == "file":
                data = open(e["from"], "rb").read() if "from" in e else e.get("data", "").encode()
                ti.size = len(data)
                ti.mode = e.get("mode", 0o644)
            elif typ == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, e.get("mode", 0o755)
            elif typ == "symlink":
                ti.type, ti.linkname, ti.mode = tarfile.SYMTYPE, e["target"], 0o777
            elif typ == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, e["target"]
            elif typ == "char":
                ti.type, ti.devmajor, ti.devminor, ti.mode = tarfile.CHRTYPE, 1, 3, 0o666
            elif typ == "fifo":
                ti.type, ti.mode = tarfile.FIFOTYPE, 0o644
            t.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def blob(out, data):
    h = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(out, "blobs", "sha256", h), "wb") as f:
        f.write(data)
    return "sha256:" + h


def write_oci(out, layers, config, gz=(), platforms=(("linux", "amd64"),)):
    os.makedirs(out, exist_ok=True)
    descs, diff_ids = [], []
    for i, entries in enumerate(layers):
        raw = tar_bytes(entries)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        if i in gz:
            data, media = gzip.compress(raw, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
        else:
            data, media = raw, "application/vnd.oci.image.layer.v1.tar"
        descs.append({"mediaType": media, "digest": blob(out, data), "size": len(data)})
    cfg = {"architecture": "amd64", "os": "linux", "config": config,
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cfg_data = json.dumps(cfg).encode()
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": blob(out, cfg_data), "size": len(cfg_data)},
           "layers": descs}
    man_data = json.dumps(man).encode()
    d = blob(out, man_data)
    index = {"schemaVersion": 2, "manifests": []}
    for os_, arch in platforms:
        index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                   "digest": d, "size": len(man_data),
                                   "platform": {"os": os_, "architecture": arch}})
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def write_docker(out, layers, config):
    files, names = {}, []
    for entries in layers:
        raw = tar_bytes(entries)
        name = hashlib.sha256(raw).hexdigest() + "/layer.tar"
        files[name] = raw
        names.append(name)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": config}).encode()
    cname = hashlib.sha256(cfg).hexdigest() + ".json"
    files[cname] = cfg
    files["manifest.json"] = json.dumps([{"Config": cname, "RepoTags": ["test:latest"],
                                          "Layers": names}]).encode()
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        for name in sorted(files):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(files[name]), EPOCH, 0o644
            t.addfile(ti, io.BytesIO(files[name]))


def usr_merged():
    # Debian's merged /usr: /bin, /lib, /lib64 are links into /usr
    return [{"path": p, "type": "dir"} for p in ("usr", "usr/bin", "usr/lib", "usr/lib64")] + \
           [{"path": "bin", "type": "symlink", "target": "usr/bin"},
            {"path": "lib", "type": "symlink", "target": "usr/lib"},
            {"path": "lib64", "type": "symlink", "target": "usr/lib64"}]


def in_usr(path):
    # a host path as it sits in a merged-/usr tree
    for top in ("/bin/", "/lib/", "/lib64/", "/sbin/"):
        if path.startswith(top):
            return "usr" + path
    return path.lstrip("/")


def busybox():
    entries = usr_merged() + [{"path": "usr/bin/busybox", "from": "/bin/busybox", "mode": 0o755}]
    for applet in ("sh", "cat", "wc", "tr", "ls", "id", "echo", "sort", "head"):
        entries.append({"path": "usr/bin/" + applet, "type": "symlink", "target": "busybox"})
    entries.append({"path": "etc", "type": "dir"})
    entries.append({"path": "etc/passwd", "data": "root:x:0:0::/root:/bin/sh\nworker:x:1001:1001::/:/bin/sh\n"})
    entries.append({"path": "etc/group", "data": "root:x:0:\nworker:x:1001:\n"})
    config = {"Entrypoint": ["/bin/sh", "-c"],
              "Cmd": ["wc -w < /inputs/data/ledger.txt > /output/words.txt && id -u > /output/uid.txt"],
              "Env": ["PATH=/usr/bin:/bin", "GREETING=hello"], "WorkingDir": "/", "User": "worker"}
    return [entries], config


def python():
    files = set()
    for pkg in ("python3.11-minimal", "libpython3.11-minimal"):
        for line in subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True).stdout.split("\n"):
            if line and os.path.isfile(line) and not os.path.islink(line) and \
               not line.startswith("/usr/share/"):
                files.add(line)
    libs = subprocess.run(["ldd", "/usr/bin/python3.11"], capture_output=True, text=True).stdout
    for line in libs.split("\n"):
        for tok in line.split():
            if tok.startswith("/"):
                files.add(tok)
    entries, dirs = usr_merged(), set()
    for f in sorted(files):
        p = in_usr(f)
        d = os.path.dirname(p)
        while d and d not in dirs and d not in ("usr", "usr/bin", "usr/lib", "usr/lib64"):
            dirs.add(d)
            d = os.path.dirname(d)
        st = os.stat(f)
        entries.append({"path": p, "from": os.path.realpath(f), "mode": st.st_mode & 0o755})
    entries += [{"path": d, "type": "dir"} for d in dirs]
    entries.append({"path": "usr/bin/python3", "type": "symlink", "target": "python3.11"})
    app = [{"path": "app", "type": "dir"},
           {"path": "app/count.py", "data":
            "import os, sys\n"
            "words = lines = 0\n"
            "for line in open('/inputs/data/ledger.txt', encoding='utf-8'):\n"
            "    lines += 1\n"
            "    words += len(line.split())\n"
            "with open(os.path.join(os.environ['CVM_OUTPUT'], 'count.txt'), 'w') as f:\n"
            "    f.write('python %d.%d: %d lines, %d words\\n' % (sys.version_info[0], sys.version_info[1], lines, words))\n"}]
    config = {"Entrypoint": ["python3"], "Cmd": ["/app/count.py"],
              "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE=1"],
              "WorkingDir": "/app", "User": "1000:1000"}
    return [entries, app], config


def main():
    args = [a for a in sys.argv[1:] if a != "--docker"]
    docker = "--docker" in sys.argv
    gz, platforms = (0,), (("linux", "amd64"),)
    if args[0] == "busybox":
        layers, config = busybox()
    elif args[0] == "python":
        layers, config = python()
    else:
        spec = json.load(open(args[1]))
        layers, config = spec["layers"], spec["config"]
        gz = tuple(spec.get("gzip", ()))
        platforms = tuple(tuple(p) for p in spec.get("platforms", [["linux", "amd64"]]))
        args = args[1:]
    if docker:
        write_docker(args[1], layers, config)
    else:
        write_oci(args[1], layers, config, gz, platforms)


if __name__ == "__main__":
    main()
