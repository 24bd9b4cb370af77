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
/// Declares a class as a socket endpoint: where connections are accepted (<c>app.MapOriSockets&lt;T&gt;(pattern)</c>),
/// with the routers it serves. Its <see cref="ConnectionGuardAttribute"/>s run for every connection it accepts,
/// its <see cref="MessageGuardAttribute"/>s before every routed message. The class must be a top-level,
/// non-generic <c>partial</c> class; the generator implements <see cref="ISocketEndpoint"/> on it and checks that
/// every handler of its routers that takes <c>SocketContext&lt;TState&gt;</c> gets the state its guards set
/// (ORI011). A router that no endpoint serves is served by <c>app.MapOriSockets(pattern)</c>, which has no guards.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class SocketEndpointAttribute : Attribute
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="routers">The router classes this endpoint serves.</param>
    public SocketEndpointAttribute(params Type[] routers) => Routers = routers;

    /// <summary>The router classes this endpoint serves.</summary>
    public IReadOnlyList<Type> Routers { get; }
}

/// <summary>
/// Adds a connection guard to a <see cref="SocketEndpointAttribute"/> class: it runs once for every connection of
/// that endpoint, after the upgrade and before any frame is handled, in the order the attributes are written.
/// The guard type must implement <c>IConnectionGuard</c> (ORI010); on a class that is not an endpoint it is an
/// error (ORI017). A guard derived from <c>ConnectionGuard&lt;TState&gt;</c> sets the state the endpoint's handlers read.
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
/// Runs a message guard before the handler of this route (on a method), of every route of this router (on a
/// router class) or of every route an endpoint serves (on a <see cref="SocketEndpointAttribute"/> class): the
/// endpoint's guards first, then the router's, then the route's. The guard type must implement
/// <c>IMessageGuard</c> (ORI010). Created once per connection from its services.
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
