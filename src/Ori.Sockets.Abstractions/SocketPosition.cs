namespace Ori.Sockets;

/// <summary>A place in a recoverable topic's history: the history's epoch and the offset of a push in it.</summary>
/// <param name="Epoch">Changes whenever the history's continuity is lost (a restart of the in-process history, say).</param>
/// <param name="Offset">The offset of the last push seen; each publish on the topic adds 1 (0: none yet).</param>
public readonly record struct SocketPosition(string Epoch, long Offset);
