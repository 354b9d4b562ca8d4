rpzPrimary("127.0.0.1:5353", "rpz.tapir.", {defpol=Policy.NoAction, policyName="tapir-monitor"})
