namespace Ori.Sockets.Connections;

/// <summary>
/// What the layers above see of a socket when they send to it: its id, a queue that never waits, and a close.
/// The hub, replies and guards talk to sockets through this, never through the connection itself.
/// </summary>
internal interface IOutboundSocket
{
    /// <summary>The socket's id.</summary>
    string Id { get; }

    /// <summary>Queues a frame; false when the socket is closing or was just closed for passing its bound (4008).</summary>
    bool TryEnqueue(SocketFrame frame);

    /// <summary>Starts the close handshake; frames queued before it are still sent.</summary>
    void Close(int code, string reason);
}

/// <summary>Handles the complete text messages of one connection, one at a time, in order.</summary>
internal interface IInboundHandler
{
    /// <summary>Handles one message; the bytes are valid until the returned task completes.</summary>
    ValueTask OnMessageAsync(ReadOnlyMemory<byte> message);

    /// <summary>
    /// Read while another message is still being handled: answers it at once when it needs no turn of its own
    /// (the heartbeat) and returns true; false when it must wait its turn behind the one being handled.
    /// </summary>
    bool TryAnswerOutOfTurn(ReadOnlySpan<byte> message);
}
