"""The app store: app catalogue, subscriptions, the agent runtime and its tools."""
