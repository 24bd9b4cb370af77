namespace Ori.Sockets;

/// <summary>
/// A named message with a serializer that needs no reflection. The source generator implements
/// this interface on every <c>partial</c> type marked with <see cref="SocketMessageAttribute"/>;
/// it can also be implemented by hand.
/// </summary>
/// <typeparam name="TSelf">The message type itself.</typeparam>
public interface ISocketMessage<TSelf> where TSelf : ISocketMessage<TSelf>
{
    /// <summary>The message name on the wire (the push envelope's <c>name</c>).</summary>
    static abstract string MessageName { get; }

    /// <summary>The serializer and validator of the message.</summary>
    static abstract SocketSerializer<TSelf> Serializer { get; }

    /// <summary>
    /// The JSON Schema (draft 2020-12) of the message's data, produced at compile time from the same
    /// rules as <see cref="Serializer"/> validates: for documentation, clients and contract tests.
    /// </summary>
    static abstract string JsonSchema { get; }
}
