fn main() {
    apppass_app::run()
}
