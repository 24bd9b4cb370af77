namespace Ori.Sockets;

/// <summary>
/// Makes a method the handler of a route. The source generator compiles every route of the
/// compilation into one dispatch table; an invalid route is a compile-time error (ORI001–ORI006).
/// </summary>
/// <remarks>
/// A handler takes at most one message parameter (the <c>data</c>, read and validated by generated
/// code), and optionally a <c>SocketContext</c> or <c>SocketContext&lt;TState&gt;</c> and a
/// <see cref="CancellationToken"/> (canceled when the socket closes). It returns nothing, a
/// <see cref="Task"/> or <see cref="ValueTask"/>, or the reply's data as <c>T</c>, <c>Task&lt;T&gt;</c> or
/// <c>ValueTask&lt;T&gt;</c>. Its router is created once per connection from the connection's services.
/// </remarks>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class SocketRouteAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="name">The route name: the envelope's <c>type</c>.</param>
    public SocketRouteAttribute(string name) => Name = name;

    /// <summary>The route name: the envelope's <c>type</c>.</summary>
    public string Name { get; }
}

/// <summary>
/// Adds a connection guard to the application: it runs once for every connection, after the
/// upgrade and before any frame is handled. The guard type must implement <c>IConnectionGuard</c> (ORI010).
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ConnectionGuardAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="guardType">The guard type.</param>
    public ConnectionGuardAttribute(Type guardType) => GuardType = guardType;

    /// <summary>The guard type.</summary>
    public Type GuardType { get; }
}

/// <summary>
/// Runs a message guard before the handler of this route (on a method) or of every route of this
/// router (on a class). The guard type must implement <c>IMessageGuard</c> (ORI010).
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = true, Inherited = false)]
public sealed class MessageGuardAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="guardType">The guard type.</param>
    public MessageGuardAttribute(Type guardType) => GuardType = guardType;

    /// <summary>The guard type.</summary>
    public Type GuardType { get; }
}
