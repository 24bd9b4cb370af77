using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Ori.Sockets.Routing;

namespace Ori.Sockets;

/// <summary>Configures Ori.Sockets after <c>AddOriSockets</c>: dispatchers, endpoints, connection handlers, room rules and the provider.</summary>
public sealed class OriSocketsBuilder
{
    internal OriSocketsBuilder(IServiceCollection services) => Services = services;

    /// <summary>The application's services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>
    /// Adds a dispatch table to the endpoint mapped with <c>app.MapOriSockets(pattern)</c> (no connection guards): the
    /// generator's table of the routers no <see cref="SocketEndpointAttribute"/> serves, or one written by hand.
    /// Dispatchers are tried in the order added.
    /// </summary>
    /// <typeparam name="TDispatcher">The dispatcher type.</typeparam>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder AddDispatcher<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TDispatcher>()
        where TDispatcher : class, ISocketDispatcher
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<ISocketDispatcher, TDispatcher>());
        return this;
    }

    /// <summary>
    /// Adds health checks (ASP.NET Core's, map them with <c>app.MapHealthChecks("/health")</c>): <c>ori-sockets</c>, the
    /// runtime (unhealthy while shutting down, degraded when many sockets' outbound queues are over half full), and
    /// <c>ori-sockets-provider</c>, the provider's dependency (with Redis: unhealthy while Redis is unreachable,
    /// degraded while its subscriptions are not confirmed by the liveness probe). Both are tagged <c>ori-sockets</c>.
    /// </summary>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder AddHealthChecks()
    {
        Services.AddHealthChecks()
            .AddCheck<Ori.Sockets.Hosting.RuntimeHealthCheck>("ori-sockets", tags: ["ori-sockets"])
            .AddCheck<Ori.Sockets.Hosting.ProviderHealthCheck>("ori-sockets-provider", tags: ["ori-sockets"]);
        return this;
    }

    /// <summary>
    /// Registers the application's contracts for clients in other languages (called by the generated
    /// <c>AddSocketRouters()</c> with the TypeScript module and AsyncAPI document written from its messages and routes); served by
    /// <c>MapOriSocketsContracts()</c>.
    /// </summary>
    /// <param name="typeScript">The TypeScript module.</param>
    /// <param name="asyncApi">The AsyncAPI 3.0 document.</param>
    /// <returns>This builder.</returns>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public OriSocketsBuilder AddContracts(string typeScript, string asyncApi)
    {
        ArgumentNullException.ThrowIfNull(typeScript);
        ArgumentNullException.ThrowIfNull(asyncApi);
        Services.TryAddSingleton(new Ori.Sockets.Hosting.SocketContracts(typeScript, asyncApi));
        return this;
    }

    /// <summary>
    /// Registers an endpoint type (generated for a <see cref="SocketEndpointAttribute"/> class by <c>AddSocketRouters()</c>,
    /// or written by hand) so that <c>app.MapOriSockets&lt;TEndpoint&gt;(pattern)</c> can map it.
    /// </summary>
    /// <typeparam name="TEndpoint">The endpoint type.</typeparam>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder AddEndpoint<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TEndpoint>()
        where TEndpoint : class, ISocketEndpoint
    {
        Services.TryAddSingleton<TEndpoint>();
        return this;
    }

    /// <summary>Adds a handler told when each connection becomes ready and when it ends.</summary>
    /// <typeparam name="THandler">The handler type, created from the connection's services.</typeparam>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder AddConnectionHandler<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>()
        where THandler : class, ISocketConnectionHandler
    {
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ISocketConnectionHandler, THandler>());
        return this;
    }

    /// <summary>
    /// Adds a handler told who joined and left the topics with presence events (option <c>PresenceEvents</c>); one
    /// instance per application.
    /// </summary>
    /// <typeparam name="THandler">The handler type, created from the application's services.</typeparam>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder AddPresenceHandler<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>()
        where THandler : class, ISocketPresenceHandler
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<ISocketPresenceHandler, THandler>());
        return this;
    }

    /// <summary>
    /// Makes topics recoverable (protocol section 8; or in configuration, <see cref="OriSocketsOptions.RecoverableTopics"/>): each push on them carries its position (<c>topic</c>, <c>offset</c>,
    /// <c>epoch</c>), and a client that rejoins with the last position it saw gets what it missed, in order. Plain topics
    /// are unchanged. On Redis the histories are shared by every instance (a client may recover on another one); a
    /// <c>RedisSocketEmitter</c> that publishes to them declares them too.
    /// </summary>
    /// <param name="pattern">A topic, or a prefix ending with <c>*</c> (<c>incidents:*</c>).</param>
    /// <param name="maxMessages">The most pushes kept per topic; default 100.</param>
    /// <param name="maxAge">The oldest push kept; default 10 minutes.</param>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder AddRecoverableTopics(string pattern, int maxMessages = 100, TimeSpan? maxAge = null)
    {
        var topic = Ori.Sockets.PubSub.RecoverableTopic.Create(pattern, maxMessages, maxAge);
        Services.Configure<OriSocketsOptions>(o => o.RecoverableTopics.Add(new RecoverableTopicOptions { Pattern = topic.Pattern, MaxMessages = topic.MaxMessages, MaxAge = topic.MaxAge }));
        return this;
    }

    /// <summary>Adds a room rule type; a client join is allowed when any rule allows it.</summary>
    /// <typeparam name="TRule">The rule type.</typeparam>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder AddRoomRule<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TRule>()
        where TRule : class, ISocketRoomRule
    {
        Services.TryAddEnumerable(ServiceDescriptor.Scoped<ISocketRoomRule, TRule>());
        return this;
    }

    /// <summary>Adds a room rule given as a function of the connection and the room.</summary>
    /// <param name="canJoin">Returns <see langword="true"/> to allow the join.</param>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder AddRoomRule(Func<SocketContext, string, bool> canJoin)
    {
        ArgumentNullException.ThrowIfNull(canJoin);
        Services.AddSingleton<ISocketRoomRule>(new DelegateRoomRule(canJoin));
        return this;
    }

    /// <summary>Replaces the in-process provider with a scaling provider.</summary>
    /// <typeparam name="TProvider">The provider type.</typeparam>
    /// <returns>This builder.</returns>
    public OriSocketsBuilder UseProvider<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TProvider>()
        where TProvider : class, ISocketProvider
    {
        Services.Replace(ServiceDescriptor.Singleton<ISocketProvider, TProvider>());
        return this;
    }

    private sealed class DelegateRoomRule(Func<SocketContext, string, bool> canJoin) : ISocketRoomRule
    {
        public ValueTask<bool> CanJoinAsync(SocketContext context, string room) => new(canJoin(context, room));
    }
}
