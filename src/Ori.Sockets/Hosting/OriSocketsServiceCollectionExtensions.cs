using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Ori.Sockets;
using Ori.Sockets.Hosting;
using Ori.Sockets.PubSub;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Ori.Sockets in the application's services.</summary>
public static class OriSocketsServiceCollectionExtensions
{
    /// <summary>
    /// Adds the Ori.Sockets server: options bound from the configuration section <c>Ori:Sockets</c>
    /// (then <paramref name="configure"/>), the native pub/sub core, the in-process provider, and
    /// <see cref="ISocketEmitter"/> for application code.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>A builder for dispatchers, guards, room rules and the provider.</returns>
    public static OriSocketsBuilder AddOriSockets(this IServiceCollection services, Action<OriSocketsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<OriSocketsOptions>().BindConfiguration(OriSocketsOptions.SectionName);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OriSocketsOptions>, OriSocketsOptionsValidator>());
        services.TryAddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<OriSocketsOptions>>().Value;
            return new Ori.Sockets.Connections.OutboundBudget(options.OutboundBudget, TimeSpan.FromSeconds(5), options.OutboundBudgetPerConnection);
        });
        services.TryAddSingleton(sp => new SocketHub(sp.GetRequiredService<IOptions<OriSocketsOptions>>().Value.MaxRoomsPerSocket, sp.GetService<TimeProvider>())
        {
            Budget = sp.GetRequiredService<Ori.Sockets.Connections.OutboundBudget>(),
        });
        services.TryAddSingleton(sp => new Ori.Sockets.PubSub.TopicHistories(
            RecoverableTopicOptions.All(sp.GetRequiredService<IOptions<OriSocketsOptions>>().Value), sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<ISocketProvider>(sp => new Ori.Sockets.PubSub.InProcessSocketProvider(
            sp.GetRequiredService<SocketHub>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Ori.Sockets.PubSub.TopicHistories>()));
        services.TryAddSingleton(sp => new Ori.Sockets.PubSub.DependencyBound(
            sp.GetRequiredService<ISocketProvider>(), sp.GetRequiredService<IOptions<OriSocketsOptions>>().Value.DependencyTimeout));

        // Application code sends through the bound: no publish waits on a stalled dependency past DependencyTimeout.
        services.TryAddSingleton<ISocketEmitter>(sp => sp.GetRequiredService<Ori.Sockets.PubSub.DependencyBound>());
        services.TryAddSingleton<ISocketPresence>(sp => sp.GetRequiredService<Ori.Sockets.PubSub.DependencyBound>());
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<OriSocketsOptions>>().Value;
            return new Ori.Sockets.PubSub.PresenceEvents(
                sp.GetRequiredService<SocketHub>(), sp.GetRequiredService<Ori.Sockets.PubSub.DependencyBound>(), sp.GetServices<ISocketPresenceHandler>(), o.PresenceEvents, o.PresenceEventsWindow,
                sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>().CreateLogger(Ori.Sockets.Telemetry.SocketLog.Category));
        });
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<OriSocketsOptions>>().Value;
            return new Ori.Sockets.Routing.MessageBudget(o.MessagesPerSecond, o.MessageBurst, o.RateLimitCloseFactor);
        });
        services.TryAddSingleton<ConnectionRegistry>();
        services.TryAddSingleton(sp => new Ori.Sockets.Hosting.SocketMetrics(
            sp.GetService<System.Diagnostics.Metrics.IMeterFactory>(), sp.GetRequiredService<ConnectionRegistry>(), sp.GetRequiredService<SocketHub>()));
        services.TryAddSingleton<ConnectionLifecycle>();
        services.TryAddSingleton<UpgradeRateLimiter>();
        services.TryAddSingleton<SocketEndpointHandler>();
        services.TryAddSingleton<DefaultSocketEndpoint>();

        // The listeners' own transport (UseOriSockets): asked first by Kestrel, it binds only the endpoints they claim.
        services.TryAddSingleton<SocketTransport>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.AspNetCore.Connections.IConnectionListenerFactory, SocketTransport>(static sp => sp.GetRequiredService<SocketTransport>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, OriSocketsHostedService>());
        return new OriSocketsBuilder(services);
    }
}
