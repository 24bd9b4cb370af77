using System.ComponentModel;
using System.Text.Json;

namespace Ori.Sockets;

/// <summary>
/// Marks a message as a request whose route replies with <typeparamref name="TReply"/>.
/// Clients use it to type their requests (<c>client.RequestAsync(new PresenceUpdate("idle"))</c> returns
/// the reply type); the generator checks that the route handling the message returns this type.
/// </summary>
/// <remarks>
/// The members below are implemented by the source generator on every partial <c>[SocketMessage]</c>
/// type, so that a client can send a request and read its reply without reflection.
/// </remarks>
/// <typeparam name="TReply">The type of the reply's <c>data</c>.</typeparam>
public interface ISocketRequest<TReply>
{
    /// <summary>The request's type on the wire (its message name).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    string RequestType => throw NotGenerated();

    /// <summary>The serializer of the reply's <c>data</c>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    SocketSerializer<TReply> ReplySerializer => throw NotGenerated();

    /// <summary>Writes the request's <c>data</c>.</summary>
    /// <param name="writer">The writer, positioned where a value may be written.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    void WriteRequestData(Utf8JsonWriter writer) => throw NotGenerated();

    private static NotSupportedException NotGenerated() =>
        new($"{typeof(ISocketRequest<TReply>).Name} is implemented by the Ori.Sockets source generator on partial [SocketMessage] types; this type is not one.");
}
