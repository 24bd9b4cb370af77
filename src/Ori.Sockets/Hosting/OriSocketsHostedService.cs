using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Ori.Sockets.Hosting;

/// <summary>
/// Starts and stops the provider, runs the idle sweeper, and drains on shutdown: <c>ori.draining</c> to every socket,
/// then 1001 closes spread over <see cref="OriSocketsOptions.DrainWindow"/>, within the host's shutdown timeout.
/// </summary>
/// <remarks>Takes the presence events too, so that they watch the hub from the start.</remarks>
internal sealed class OriSocketsHostedService(
    ConnectionRegistry registry,
    ISocketProvider provider,
    IHostApplicationLifetime lifetime,
    Ori.Sockets.PubSub.PresenceEvents presence,
    IOptions<OriSocketsOptions> options,
    IOptions<HostOptions> host) : IHostedService
{
    private CancellationTokenRegistration _stopping;

    /// <summary>
    /// The drain window: the configured one, cut so that the last socket closed still has its close timeout before the
    /// host stops waiting.
    /// </summary>
    internal TimeSpan Window
    {
        get
        {
            var room = host.Value.ShutdownTimeout - options.Value.CloseTimeout;
            return room <= TimeSpan.Zero ? TimeSpan.Zero : options.Value.DrainWindow < room ? options.Value.DrainWindow : room;
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await provider.StartAsync(cancellationToken).ConfigureAwait(false);
        registry.StartIdleSweeper();

        // ApplicationStopping fires before the server stops taking requests and waiting for open ones: draining from
        // then lets the sockets' requests end, so the host stops in time.
        _stopping = lifetime.ApplicationStopping.Register(static state => ((OriSocketsHostedService)state!).StartDrain(), this);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.DisposeAsync().ConfigureAwait(false);
        await registry.ShutdownAsync(Window, options.Value.DrainReconnectDelay, cancellationToken).ConfigureAwait(false);
        await provider.StopAsync(cancellationToken).ConfigureAwait(false);
        presence.Dispose();
    }

    private void StartDrain() => _ = registry.ShutdownAsync(Window, options.Value.DrainReconnectDelay, CancellationToken.None);
}
