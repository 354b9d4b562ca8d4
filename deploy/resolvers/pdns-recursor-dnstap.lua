dnstapFrameStreamServer("/run/tapir/dnstap.sock", {logQueries=true, logResponses=true})
