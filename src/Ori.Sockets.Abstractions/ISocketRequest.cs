namespace Ori.Sockets;

/// <summary>
/// Marks a message as a request whose route replies with <typeparamref name="TReply"/>.
/// Clients use it to type their requests; the generator checks that the route handling the
/// message returns this type.
/// </summary>
/// <typeparam name="TReply">The type of the reply's <c>data</c>.</typeparam>
#pragma warning disable CA1040 // An empty interface is the point: it carries the reply type.
public interface ISocketRequest<TReply>
{
}
#pragma warning restore CA1040
