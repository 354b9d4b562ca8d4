fsul = newFrameStreamUnixLogger("/run/tapir/dnstap.sock")
addAction(AllRule(), DnstapLogAction("dnsdist", fsul))
addResponseAction(AllRule(), DnstapLogResponseAction("dnsdist", fsul))
addCacheHitResponseAction(AllRule(), DnstapLogResponseAction("dnsdist", fsul))
