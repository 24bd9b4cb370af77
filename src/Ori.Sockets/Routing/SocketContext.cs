using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features.Authentication;
using Ori.Sockets.PubSub;

namespace Ori.Sockets;

/// <summary>
/// One connection as its handlers see it: its id, the state its guards set, its user, its
/// subscriptions and the emitter. One instance lives as long as the connection.
/// </summary>
public sealed class SocketContext
{
    private readonly DependencyBound _dependencies;
    private readonly IServiceProvider? _services;
    private HttpContext? _http;
    private ClaimsPrincipal? _user;

    /// <param name="socketId">The socket's id.</param>
    /// <param name="httpContext">The upgraded request.</param>
    /// <param name="services">The connection's services when they are not the request's (a listener's connection keeps them after its request is let go).</param>
    /// <param name="upgradeData">What the upgrade hook attached.</param>
    /// <param name="dependencies">The emitter and subscriptions, bounded.</param>
    /// <param name="aborted">Canceled when the socket starts closing.</param>
    internal SocketContext(string socketId, HttpContext httpContext, IServiceProvider? services, object? upgradeData, DependencyBound dependencies, CancellationToken aborted)
    {
        SocketId = socketId;
        _http = httpContext;
        _services = services;
        UpgradeData = upgradeData;
        _dependencies = dependencies;
        Aborted = aborted;
    }

    /// <summary>The socket's id: a random UUID v4, the address for direct sends.</summary>
    public string SocketId { get; }

    /// <summary>
    /// The HTTP request that was upgraded. On an endpoint mapped with <c>MapOriSockets</c> it lives as long as the
    /// connection. On a listener served with <c>UseOriSockets</c>, which keeps no HTTP objects after the handshake, it is
    /// there while the connection guards run and <see langword="null"/> from <c>ori.ready</c> on: a guard copies what the
    /// handlers need into <see cref="State"/>.
    /// </summary>
    public HttpContext? HttpContext => _http;

    /// <summary>The user of the upgraded request (an anonymous one when it was not authenticated).</summary>
    public ClaimsPrincipal User => _http?.User ?? (_user ??= new ClaimsPrincipal(new ClaimsIdentity()));

    /// <summary>
    /// Who the socket is, for sends to a user and for presence: set by a connection guard
    /// (<see cref="ConnectionGuardContext.UserId"/>), else taken from <see cref="User"/> by the <c>UserIdFromClaims</c>
    /// option (the name identifier claim of an authenticated user by default); <see langword="null"/> for anonymous sockets.
    /// </summary>
    public string? UserId { get; internal set; }

    /// <summary>What the upgrade hook attached to the connection, if anything.</summary>
    public object? UpgradeData { get; }

    /// <summary>The state the connection guards set, if any.</summary>
    public object? State { get; set; }

    /// <summary>The connection's services (a scope that lives as long as the connection).</summary>
    public IServiceProvider Services => _services ?? _http!.RequestServices;

    /// <summary>
    /// Lets the upgraded request go (a listener's connection, once its guards have run): the user is kept (unless it is
    /// the anonymous one, made again when asked for), the request's headers, features and response are not.
    /// </summary>
    internal void ReleaseHttpContext()
    {
        if (_http is { } http)
        {
            var user = AuthenticatedUser(http);
            _user = user is not null && user.Identities.Any(i => i.IsAuthenticated || i.Claims.Any()) ? user : null;
            _http = null;
        }
    }

    /// <summary>
    /// The user as authentication set it, or null: reading <see cref="HttpContext.User"/> instead would make an anonymous
    /// one for nothing when no scheme ran.
    /// </summary>
    internal static ClaimsPrincipal? AuthenticatedUser(HttpContext http) => http.Features.Get<IHttpAuthenticationFeature>()?.User;

    /// <summary>
    /// Sends to topics, sockets and everyone. Its waits are bounded by the <c>DependencyTimeout</c> option: past it,
    /// <see cref="SocketUnavailableException"/> (answered <c>unavailable</c> when a handler lets it through).
    /// </summary>
    public ISocketEmitter Emitter => _dependencies;

    /// <summary>Canceled when the socket starts closing.</summary>
    public CancellationToken Aborted { get; }

    /// <summary>The guard-set state as <typeparamref name="TState"/>.</summary>
    /// <typeparam name="TState">The state type the guards set.</typeparam>
    /// <returns>The state.</returns>
    /// <exception cref="InvalidOperationException">No guard set a state of that type.</exception>
    public TState GetState<TState>() where TState : class =>
        State as TState ?? throw new InvalidOperationException(
            $"The connection's state is {(State is null ? "not set" : $"a {State.GetType().Name}")}, not a {typeof(TState).Name}. Set it in a connection guard (ConnectionGuard<{typeof(TState).Name}>).");

    /// <summary>Subscribes this socket to <paramref name="topic"/> (on every instance, through the provider).</summary>
    /// <param name="topic">A valid topic.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the subscription is in place.</returns>
    /// <exception cref="SocketUnavailableException">The provider did not complete it within <c>DependencyTimeout</c>; the socket is not subscribed.</exception>
    public ValueTask SubscribeAsync(string topic, CancellationToken cancellationToken = default) =>
        _dependencies.SubscribeAsync(SocketId, topic, cancellationToken);

    /// <summary>
    /// Subscribes this socket to <paramref name="topic"/>, recovering what it missed after <paramref name="recover"/> when
    /// the topic is recoverable: the missed pushes are queued, in order, before any newer push of the topic.
    /// </summary>
    /// <param name="topic">A valid topic.</param>
    /// <param name="recover">The last position the client saw, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Whether it recovered, and the topic's latest position (null for a topic that keeps no history).</returns>
    public ValueTask<SocketSubscription> SubscribeAsync(string topic, SocketPosition? recover, CancellationToken cancellationToken = default) =>
        _dependencies.SubscribeAsync(SocketId, topic, recover, null, cancellationToken);

    internal ValueTask<SocketSubscription> SubscribeAsync(string topic, SocketPosition? recover, Action<SocketSubscription> beforeReplay, CancellationToken cancellationToken) =>
        _dependencies.SubscribeAsync(SocketId, topic, recover, beforeReplay, cancellationToken);

    /// <summary>Unsubscribes this socket from <paramref name="topic"/>; not an error if it was not subscribed.</summary>
    /// <param name="topic">A valid topic.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the subscription is gone.</returns>
    /// <exception cref="SocketUnavailableException">The provider did not complete it within <c>DependencyTimeout</c>.</exception>
    public ValueTask UnsubscribeAsync(string topic, CancellationToken cancellationToken = default) =>
        _dependencies.UnsubscribeAsync(SocketId, topic, cancellationToken);

    /// <summary>The members of a topic, across instances as the provider sees them (bounded like every dependency wait).</summary>
    internal ValueTask<SocketPresence> GetPresenceAsync(string topic, CancellationToken cancellationToken) =>
        _dependencies.GetPresenceAsync(topic, cancellationToken);

    private object?[]? _slots;

    /// <summary>
    /// Gets or creates an object that lives as long as the connection (a router, a message guard).
    /// Called by generated dispatch code with a slot number of its own.
    /// </summary>
    /// <typeparam name="T">The object's type.</typeparam>
    /// <param name="slot">The object's slot, 0 to 1023.</param>
    /// <param name="create">Creates it from the connection's services the first time.</param>
    /// <returns>The object.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public T GetConnectionService<T>(int slot, Func<IServiceProvider, T> create) where T : class
    {
        ArgumentNullException.ThrowIfNull(create);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slot, 1023);
        if (_slots is null || _slots.Length <= slot)
        {
            Array.Resize(ref _slots, Math.Max(slot + 1, 4));
        }

        return (T)(_slots[slot] ??= create(Services));
    }
}

/// <summary>
/// A connection with its guard-set state typed as <typeparamref name="TState"/>. A struct: taking it
/// as a handler parameter allocates nothing.
/// </summary>
/// <typeparam name="TState">The state type the connection guards set.</typeparam>
public readonly struct SocketContext<TState> where TState : class
{
    /// <summary>Wraps a connection.</summary>
    /// <param name="context">The connection.</param>
    public SocketContext(SocketContext context) => Context = context ?? throw new ArgumentNullException(nameof(context));

    /// <summary>The untyped connection.</summary>
    public SocketContext Context { get; }

    /// <summary>The state the guards set.</summary>
    public TState State => Context.GetState<TState>();

    /// <summary>The socket's id.</summary>
    public string SocketId => Context.SocketId;

    /// <summary>The user of the upgraded request.</summary>
    public ClaimsPrincipal User => Context.User;

    /// <summary>Who the socket is (see <see cref="SocketContext.UserId"/>).</summary>
    public string? UserId => Context.UserId;

    /// <summary>Sends to topics, sockets and everyone.</summary>
    public ISocketEmitter Emitter => Context.Emitter;

    /// <summary>Canceled when the socket starts closing.</summary>
    public CancellationToken Aborted => Context.Aborted;

    /// <summary>Subscribes this socket to <paramref name="topic"/>.</summary>
    /// <param name="topic">A valid topic.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the subscription is in place.</returns>
    public ValueTask SubscribeAsync(string topic, CancellationToken cancellationToken = default) => Context.SubscribeAsync(topic, cancellationToken);

    /// <summary>
    /// Subscribes this socket to <paramref name="topic"/>, recovering what it missed after <paramref name="recover"/> when
    /// the topic is recoverable: the missed pushes are queued, in order, before any newer push of the topic.
    /// </summary>
    /// <param name="topic">A valid topic.</param>
    /// <param name="recover">The last position the client saw, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Whether it recovered, and the topic's latest position (null for a topic that keeps no history).</returns>
    public ValueTask<SocketSubscription> SubscribeAsync(string topic, SocketPosition? recover, CancellationToken cancellationToken = default) =>
        Context.SubscribeAsync(topic, recover, cancellationToken);

    /// <summary>Unsubscribes this socket from <paramref name="topic"/>.</summary>
    /// <param name="topic">A valid topic.</param>
    /// <param name="cancellationToken">Cancels the wait for the provider.</param>
    /// <returns>Completes when the subscription is gone.</returns>
    public ValueTask UnsubscribeAsync(string topic, CancellationToken cancellationToken = default) => Context.UnsubscribeAsync(topic, cancellationToken);

    /// <summary>The untyped connection.</summary>
    /// <param name="context">The typed connection.</param>
    public static implicit operator SocketContext(SocketContext<TState> context) => context.Context;

    /// <summary>The untyped connection.</summary>
    /// <returns>The connection.</returns>
    public SocketContext ToSocketContext() => Context;
}
