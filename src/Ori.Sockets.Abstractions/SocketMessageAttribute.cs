namespace Ori.Sockets;

/// <summary>
/// Declares a type as a named Ori.Sockets message: a request a client sends to a route, or a push
/// the server emits. The source generator emits its serializer, validator and JSON Schema.
/// </summary>
/// <remarks>
/// The name is what travels on the wire: the <c>type</c> of a request envelope, or the <c>name</c>
/// of a push envelope. It is 1–128 characters of <c>A-Z a-z 0-9 _ . : -</c> and may not be a
/// reserved name (<c>ori.*</c>, <c>room.join</c>, <c>room.leave</c>, <c>heartbeat</c>).
/// </remarks>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
public sealed class SocketMessageAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="name">The message name on the wire.</param>
    public SocketMessageAttribute(string name) => Name = name;

    /// <summary>The message name on the wire.</summary>
    public string Name { get; }
}
