namespace Ori.Sockets;

/// <summary>What a subscription to a recoverable topic found.</summary>
/// <param name="Recovered">Whether every push after the requested position was delivered (before any newer one).</param>
/// <param name="Position">The topic's latest position; <see langword="null"/> for a topic that keeps no history.</param>
public sealed record SocketSubscription(bool Recovered, SocketPosition? Position);
