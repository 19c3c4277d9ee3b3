# Helper of filter-kernel.test.ts (runs inside a vkf-* network namespace, as root):
# for each case, an AF_PACKET socket on lo with the BPF program attached and one without,
# UDP datagrams sent to 127.0.0.1, and every frame both sockets saw printed as JSON.
import ctypes, json, socket, struct, sys

def sock(kind, code):
    t = socket.SOCK_RAW if kind == "raw" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_PACKET, t, socket.htons(3))  # ETH_P_ALL
    s.bind(("lo", 0))
    keep = None
    if code:
        keep = ctypes.create_string_buffer(code)
        s.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(code) // 8, ctypes.addressof(keep)))  # SO_ATTACH_FILTER
    s.setblocking(False)
    try:
        while True:
            s.recv(65535)  # frames queued before the filter was attached
    except BlockingIOError:
        pass
    return s, keep

def drain(s):
    out = []
    s.settimeout(0.3)
    try:
        while True:
            d, a = s.recvfrom(65535)
            out.append({"proto": a[1], "data": d.hex()})
    except socket.timeout:
        pass
    return out

res = []
for c in json.load(sys.stdin):
    f, keep = sock(c["kind"], bytes.fromhex(c["bpf"]))
    ref, _ = sock(c["kind"], b"")
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for p in c["ports"]:
        u.sendto(b"vkf-bpf!", ("127.0.0.1", p))
    res.append({"filtered": drain(f), "all": drain(ref)})
print(json.dumps(res))
